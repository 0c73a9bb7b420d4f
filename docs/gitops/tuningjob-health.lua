-- Argo CD health check for kubetune.io/TuningJob, from its status conditions.
-- Install it as resource.customizations.health.kubetune.io_TuningJob in argocd-cm (see README.md).
--   Running            -> Progressing
--   Complete=True      -> Healthy     (MaxTrialsReached, TargetReached, NoImprovement, ...)
--   Failed=True        -> Degraded    (MaxFailedTrialsExceeded, InvalidSpec, ...)
--   no status yet, or a generation the operator has not seen -> Progressing
local hs = {status = "Progressing", message = "Waiting for the kubetune operator"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
local found = {}
for _, condition in ipairs(obj.status.conditions) do
  if condition.status == "True" then
    found[condition.type] = condition
  end
end
local function describe(condition)
  local text = condition.reason or condition.type
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end
if found["Failed"] ~= nil then
  hs.status = "Degraded"
  hs.message = describe(found["Failed"])
elseif found["Complete"] ~= nil then
  hs.status = "Healthy"
  hs.message = describe(found["Complete"])
elseif found["Running"] ~= nil then
  hs.status = "Progressing"
  hs.message = describe(found["Running"])
end
return hs
