input { amount = field.number{required = true} }
local ok = Human.approve{message = "Spend " .. tostring(input.amount) .. "?"}
output { approved = field.boolean{required = true} }
Hitl("later", {type = "approval", message = "Later"})
return {approved = ok}
