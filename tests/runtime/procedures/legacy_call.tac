Procedure("main", {
  input = { who = field.string{default = "legacy"} },
}, function(input)
  return {greeting = "hi " .. input.who}
end)
