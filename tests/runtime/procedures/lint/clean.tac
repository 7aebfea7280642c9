Hitl("confirm", {type = "approval", message = "Go?", timeout = 60, default = false})
Procedure {
  input = { target = field.string{required = true} },
  output = { ok = field.boolean{required = true} },
  function(input)
    local ok = Human.approve{config_key = "confirm", context = {target = input.target},
                             approvers = {"U1"}, reminders = {600}}
    Human.notify{message = "done", level = "info"}
    return {ok = ok}
  end
}
