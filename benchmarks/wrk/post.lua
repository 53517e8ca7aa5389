-- POST with an empty body: the insert-and-commit floor route.
dofile(debug.getinfo(1, "S").source:match("@(.*/)") .. "summary.lua")
wrk.method = "POST"
