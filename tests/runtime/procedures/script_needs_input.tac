input { count = field.integer{required = true} }
local doubled = input.count * 2
return {doubled = doubled}
