-- Deploy a service once a second person approves.
-- Used by the loader tests.

Hitl("confirm_deploy", {type = "approval", message = "Deploy now?", timeout = 600, default = false})

greeter = Agent { provider = "openai", system_prompt = "unused" }

Procedure {
  input = {
    service = field.string{required = true, description = "Service to deploy"},
    replicas = field.integer{default = 2},
    region = field.string{enum = {"eu", "us"}, default = "eu"},
    tags = field.array{},
    dry_run = field.boolean{required = true, default = false},
  },
  output = {
    deployed = field.boolean{required = true},
    summary = field.string{},
  },
  state = {
    attempts = field.number{default = 0},
  },
  approvers = {"U0ALICE"},
  channel = "#deploys",
  function(input)
    local ok = Human.approve({config_key = "confirm_deploy", context = {service = input.service}})
    return {deployed = ok, summary = input.service .. " x" .. input.replicas}
  end
}
