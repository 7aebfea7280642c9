Procedure "main" {
  input = { who = field.string{default = "world"} },
  output = { greeting = field.string{required = true} },
  function(input) return {greeting = "hello " .. input.who} end
}
