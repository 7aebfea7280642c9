-- On-call handover: the outgoing engineer reports on their shift in one form, picks the services
-- the incoming engineer should watch, and the incoming engineer accepts the pager.
--
--   hitlbot run examples/oncall_handover.tac -p team=payments -p incoming=sam.okafor
--   hitlbot run examples/oncall_handover.tac --answers examples/answers/oncall_handover.json

Procedure {
  version = "1.1.0",
  description = "Hand the pager over with a shift report and a watch list.",

  input = {
    team = field.string{default = "payments"},
    outgoing = field.string{default = "maya.lin"},
    incoming = field.string{default = "sam.okafor"},
    services = field.array{
      default = {"checkout-api", "payments-gateway", "refund-worker", "ledger-sync", "fraud-scoring"},
      description = "Services the team is on call for",
    },
  },

  output = {
    accepted = field.boolean{required = true},
    health = field.string{required = true},
    pages = field.integer{},
    watch = field.array{required = true},
    summary = field.string{},
    follow_ups = field.string{},
    runbooks_updated = field.boolean{},
  },

  function(input)
    Human.notify{
      message = "On-call handover for " .. input.team .. ": " .. input.outgoing .. " -> "
        .. input.incoming,
      level = "info",
    }

    local report = Human.multiple{
      {id = "summary", label = "Shift summary", type = "input",
       message = "What happened on your shift?"},
      {id = "pages", label = "Pages", type = "input", message = "How many times were you paged?"},
      {id = "health", label = "Overall health", type = "select",
       options = {"green", "yellow", "red"}},
      {id = "follow_ups", label = "Follow-ups", type = "input", required = false,
       message = "Anything the next shift must chase (tickets, vendors)?"},
      {id = "runbooks_updated", label = "Runbooks updated", type = "approval", required = false,
       default = false, message = "Did you update the runbooks you used?"},
    }

    local watch = Human.select{
      message = "Which services should " .. input.incoming .. " keep a close eye on?",
      mode = "multiple",
      options = input.services,
      min = 1,
      max = 3,
    }

    local accepted = Human.approve{
      message = input.incoming .. ", do you take the " .. input.team .. " pager?",
      context = {
        health = report.health,
        watch = table.concat(watch, ", "),
        follow_ups = report.follow_ups,
      },
    }
    if accepted then
      State.set("on_call", input.incoming)
      Human.notify{message = input.incoming .. " is now on call for " .. input.team,
                   level = "success"}
    else
      State.set("on_call", input.outgoing)
      Human.notify{message = input.incoming .. " did not take the pager; " .. input.outgoing
                   .. " stays on call", level = "warning"}
    end
    return {
      accepted = accepted,
      health = report.health,
      pages = tonumber(report.pages),
      watch = watch,
      summary = report.summary,
      follow_ups = report.follow_ups,
      runbooks_updated = report.runbooks_updated,
    }
  end,
}
