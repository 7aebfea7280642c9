Procedure { function(input) return {} end }
Procedure { function(input) return {} end }
