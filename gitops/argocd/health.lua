-- Argo CD health of obreg's resources (OBTrustAnchor, OBIdentityProvider,
-- OBServiceProvider), read from their kstatus conditions.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for obreg to report status"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for obreg to observe generation " .. generation
  return hs
end
local byType = {}
for _, condition in ipairs(obj.status.conditions) do
  byType[condition.type] = condition
end
if byType["Stalled"] ~= nil and byType["Stalled"].status == "True" then
  hs.status = "Degraded"
  hs.message = byType["Stalled"].message
  return hs
end
if byType["Ready"] ~= nil and byType["Ready"].status == "True" then
  hs.status = "Healthy"
  hs.message = byType["Ready"].message
  return hs
end
hs.status = "Progressing"
if byType["Reconciling"] ~= nil and byType["Reconciling"].message ~= "" then
  hs.message = byType["Reconciling"].message
elseif byType["Ready"] ~= nil then
  hs.message = byType["Ready"].message
else
  hs.message = "Waiting for obreg"
end
return hs
