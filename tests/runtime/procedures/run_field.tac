Procedure {
  input = { who = field.string{default = "run"} },
  run = function(input) return {greeting = "run " .. input.who} end,
}
