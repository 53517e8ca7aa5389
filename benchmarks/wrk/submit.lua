-- The final "Send my answers" of many patients: each request is another patient's last page.
-- args[1] is a file of prepared patients, one per line: Cookie header, a tab, the form body.
-- Each wrk thread takes every n-th line, so no invitation is submitted by two threads; a
-- thread that runs out counts it in "exhausted" (the caller then needs more patients).
dofile(debug.getinfo(1, "S").source:match("@(.*/)") .. "summary.lua")

local setup_summary = setup
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  setup_summary(thread)
end

local patients = {}
local next_patient = 1
exhausted = 0

function init(args)
  local threads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == id then
      local cookie, body = line:match("^([^\t]*)\t(.*)$")
      table.insert(patients, {cookie = cookie, body = body})
    end
    n = n + 1
  end
end

function request()
  local patient = patients[next_patient]
  if patient == nil then
    exhausted = exhausted + 1
    patient = patients[#patients]
  else
    next_patient = next_patient + 1
  end
  return wrk.format("POST", nil, {
    ["Cookie"] = patient.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, patient.body)
end
