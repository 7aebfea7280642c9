-- A plain Lua file: main is found by name.
input { name = field.string{default = "plain"} }

function main()
  return {greeting = "plain " .. input.name}
end
