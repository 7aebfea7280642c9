"""The Slack app and the `hitlbot` command line."""
