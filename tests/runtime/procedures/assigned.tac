helper = Procedure {
  input = { n = field.number{} },
  function(input) return {double = input.n * 2} end
}

main = Procedure {
  input = { count = field.integer{required = true} },
  output = { double = field.number{} },
  function(input) return helper({n = input.count}) end
}
