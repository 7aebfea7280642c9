-- Calls a primitive at the top level, before declaring the procedure.
Log.info("loading")
Procedure { input = { who = field.string{} }, function(input) return {} end }
