-- Incident escalation: an alert fires, the on-call engineer judges the customer impact, and a real
-- impact is escalated to the incident commander, who stays paged until they resolve it.
--
--   hitlbot run examples/incident_escalation.tac -p service=payments-api -p error_rate=12.5
--   hitlbot run examples/incident_escalation.tac --answers examples/answers/incident_escalation.json

Hitl("impact", {
  type = "select",
  message = "What is the customer impact?",
  timeout = 300,
  default = "unknown",
})

stages({"triage", "escalation", "resolution"})

Procedure {
  version = "2.1.0",
  description = "Triage an alert, escalate real customer impact, record the resolution.",

  input = {
    service = field.string{default = "payments-api", description = "Service the alert is about"},
    alert_name = field.string{default = "HighErrorRate", description = "Alertmanager alert name"},
    severity = field.string{
      default = "critical",
      enum = {"warning", "error", "critical"},
      description = "Severity the alert was raised with",
    },
    error_rate = field.number{default = 12.5, description = "Percent of requests failing"},
    runbook = field.string{default = "https://runbooks.example.com/payments/high-error-rate"},
  },

  output = {
    incident = field.boolean{required = true},
    customer_impact = field.string{required = true},
    impact_timed_out = field.boolean{},
    resolution = field.string{},
  },

  function(input)
    local where = input.service .. " (" .. input.alert_name .. ")"
    Stage.set("triage")
    System.alert{
      message = string.format("%s: %.1f%% of requests failing", where, input.error_rate),
      level = input.severity,
      source = "alertmanager",
      context = {service = input.service, runbook = input.runbook},
    }

    local impact, timed_out = Human.select{
      config_key = "impact",
      message = "What is the customer impact of " .. where .. "?",
      options = {
        {value = "none", label = "None", description = "internal only, customers unaffected"},
        {value = "degraded", label = "Degraded", description = "slow or failing for some"},
        {value = "outage", label = "Outage", description = "customers cannot pay"},
        {value = "unknown", label = "Unknown yet"},
      },
    }
    if impact == "none" then
      Human.notify{message = where .. " closed: no customer impact", level = "info"}
      return {incident = false, customer_impact = impact, impact_timed_out = timed_out}
    end

    Stage.set("escalation")
    State.set("incident_open", true)
    Human.notify{
      message = "Incident declared for " .. where .. " (impact: " .. impact .. ")",
      level = "error",
      details = {{title = "Runbook", content = input.runbook}},
    }
    -- An escalation never times out: the incident commander stays paged until they resolve it.
    Human.escalate{
      message = "Incident on " .. where .. ": " .. impact .. " customer impact. Take command.",
      severity = input.severity,
      context = {
        service = input.service,
        error_rate = input.error_rate,
        impact = impact,
        runbook = input.runbook,
      },
    }

    Stage.set("resolution")
    local resolution = Human.input{
      message = "How was it resolved? (goes into the postmortem)",
      placeholder = "Rolled back payments-api to 4.2.1; gateway timeouts stopped at 14:32",
      timeout = 3600,
      default = "not recorded",
    }
    State.set("incident_open", false)
    System.alert{message = where .. " resolved: " .. resolution, level = "info"}
    return {
      incident = true,
      customer_impact = impact,
      impact_timed_out = timed_out,
      resolution = resolution,
    }
  end,
}
