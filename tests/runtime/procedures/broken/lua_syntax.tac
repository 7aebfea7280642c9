Procedure {
  input = { who = field.string{} },
  function(input)
    local greeting = "hi " ..
  end -- the parser stops here: `..` needs a right-hand side
}
