local settings = nil
local region = settings.region
Procedure { function(input) return {region = region} end }
