-- GET one page, as one browser: args[1], if given, is the Cookie header it sends.
dofile(debug.getinfo(1, "S").source:match("@(.*/)") .. "summary.lua")

function init(args)
  if args[1] then
    wrk.headers["Cookie"] = args[1]
  end
end
