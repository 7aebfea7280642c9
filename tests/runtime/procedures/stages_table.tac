stages({"one", "two"})
procedure("main", function() return {stage_count = 2} end)
