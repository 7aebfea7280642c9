-- Script mode: the whole file is the body.
input {
  amount = field.number{required = true},
  currency = field.string{enum = {"EUR", "USD"}, default = "EUR"},
}
output {
  approved = field.boolean{required = true},
}
Hitl("big_spend", {type = "approval", message = "Approve the spend?"})

local ok = Human.approve({config_key = "big_spend", context = {amount = input.amount}})
return {approved = ok}
