procedure("helper", function() return {} end)
