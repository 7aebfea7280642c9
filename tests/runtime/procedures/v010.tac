-- Tactus 0.10.0 style: lowercase declarations, a main that takes no arguments.
hitl("confirm_publish", {type = "approval", message = "Publish?", timeout = 3600, default = false})
stages("draft", "review", "published")
prompt("system", "You are a helpful assistant")

main = procedure("main", {
  input = {
    topic = {type = "string", required = true, description = "What to write about"},
    words = {type = "number", default = 300},
  },
  output = {
    published = {type = "boolean", required = true},
  },
  state = {
    draft = {type = "string"},
  },
}, function()
  local ok = Human.approve({config_key = "confirm_publish"})
  return {published = ok, topic = input.topic}
end)
