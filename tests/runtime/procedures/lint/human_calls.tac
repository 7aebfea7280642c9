-- Human.approvee{} in a comment is not a call, and neither is the string below.
Hitl("confirm", {type = "approval", message = "Go?"})

Procedure {
  input = { target = field.string{required = true} },
  function(input)
    local text = "Human.aprove{timout = 1}"
    local ok = Human.approve({
      message = "Deploy " .. input.target .. "?",
      timout = 3600,
      config_key = "confirm",
    })
    local name = Human.inputt{message = "Name?"}
    Human:notify{message = "colon"}
    Human.select{message = "Pick", options = {"a", "b"}, colour = "red", style = "buttons"}
    Human.approve{config_key = "confrim"}
    local answers = Human.multiple({
      {id = "a", label = "A", type = "input", placeholdr = "x"},
      {id = "b", label = "B", type = "select", options = {"x", "y"}},
    })
    Human.inputs{ {id = "c", label = "C", type = "input"} }
    Human.review{message = "Check", artifact = text, [ "feedback" ] = "x"}
    Human.approve("confirm")
    local opts = {whatever = 1}
    Human.approve(opts)
    return {ok = ok}
  end
}
