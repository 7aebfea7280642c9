Procedure {
  input = {
    who = field.text{required = true},
  },
  function(input) return {} end
}
