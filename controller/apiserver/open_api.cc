#include "controller/apiserver/open_api.h"

#include <cstdio>
#include <functional>

namespace siteplane::apiserver {
namespace {

constexpr const char* kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";

std::string metaRef(const std::string& name) {
  return std::string("#/components/schemas/") + kMeta + name;
}

nlohmann::json refTo(const std::string& ref) { return {{"$ref", ref}}; }

// Kubernetes wraps a $ref that carries a description or default in allOf; kubectl explain
// follows both forms.
nlohmann::json allOfRef(const std::string& ref, const std::string& description) {
  return {{"allOf", nlohmann::json::array({refTo(ref)})}, {"description", description}};
}

nlohmann::json withDescription(nlohmann::json schema, const std::string& description) {
  schema["description"] = description;
  return schema;
}

nlohmann::json stringProperty(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

nlohmann::json timeSchema() {
  return {{"type", "string"},
          {"format", "date-time"},
          {"description", "Time is a wrapper around time.Time, serialized as RFC 3339."}};
}

nlohmann::json fieldsV1Schema() {
  return {{"type", "object"},
          {"description",
           "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format."}};
}

nlohmann::json managedFieldsEntrySchema() {
  return {
      {"type", "object"},
      {"description",
       "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource "
       "that the fieldset applies to."},
      {"properties",
       {{"apiVersion", stringProperty("APIVersion defines the version of this resource that "
                                      "this field set applies to.")},
        {"fieldsType", stringProperty("FieldsType is the discriminator for the different fields "
                                      "format and version. There is currently only one possible "
                                      "value: \"FieldsV1\"")},
        {"fieldsV1", allOfRef(metaRef("FieldsV1"),
                              "FieldsV1 holds the first JSON version format as described in "
                              "the \"FieldsV1\" type.")},
        {"manager", stringProperty("Manager is an identifier of the workflow managing these "
                                   "fields.")},
        {"operation", stringProperty("Operation is the type of operation which lead to this "
                                     "ManagedFieldsEntry being created. The only valid values "
                                     "for this field are 'Apply' and 'Update'.")},
        {"subresource", stringProperty("Subresource is the name of the subresource used to "
                                       "update that object, or empty string if the object was "
                                       "updated through the main resource.")},
        {"time", allOfRef(metaRef("Time"),
                          "Time is the timestamp of when the ManagedFields "
                          "entry was added.")}}}};
}

nlohmann::json ownerReferenceSchema() {
  return {{"type", "object"},
          {"description",
           "OwnerReference contains enough information to let you identify an owning "
           "object."},
          {"required", {"apiVersion", "kind", "name", "uid"}},
          {"properties",
           {{"apiVersion", stringProperty("API version of the referent.")},
            {"blockOwnerDeletion", {{"type", "boolean"}, {"description", "Unused by siteplane."}}},
            {"controller",
             {{"type", "boolean"},
              {"description",
               "If true, this reference points to the managing "
               "controller."}}},
            {"kind", stringProperty("Kind of the referent.")},
            {"name", stringProperty("Name of the referent.")},
            {"uid", stringProperty("UID of the referent.")}}},
          {"x-kubernetes-map-type", "atomic"}};
}

nlohmann::json objectMetaSchema() {
  const nlohmann::json stringMap = {
      {"type", "object"}, {"additionalProperties", {{"type", "string"}, {"default", ""}}}};
  return {
      {"type", "object"},
      {"description",
       "ObjectMeta is metadata that all persisted resources must have, which "
       "includes all objects users must create."},
      {"properties",
       {{"annotations",
         withDescription(stringMap,
                         ("Annotations is an unstructured key value map stored with a "
                          "resource that may be set by external tools to store and retrieve "
                          "arbitrary metadata. siteplane.io/manifest-file marks an object "
                          "declared by a manifest file."))},
        {"creationTimestamp", allOfRef(metaRef("Time"),
                                       "CreationTimestamp is a timestamp representing the server "
                                       "time when this object was created. Read-only.")},
        {"deletionGracePeriodSeconds",
         {{"type", "integer"}, {"format", "int64"}, {"description", "Unused by siteplane."}}},
        {"deletionTimestamp", allOfRef(metaRef("Time"), "Unused by siteplane.")},
        {"finalizers",
         {{"type", "array"},
          {"items", {{"type", "string"}, {"default", ""}}},
          {"description", "Must be empty before the object is deleted from the registry."}}},
        {"generateName", stringProperty("GenerateName is an optional prefix, used by the server, "
                                        "to generate a unique name ONLY IF the Name field has "
                                        "not been provided.")},
        {"generation",
         {{"type", "integer"},
          {"format", "int64"},
          {"description",
           "A sequence number representing a specific generation of the desired "
           "state. Populated by the system. Read-only."}}},
        {"labels", withDescription(
                       stringMap, ("Map of string keys and values that can be used to organize and "
                                   "categorize (scope and select) objects."))},
        {"managedFields",
         {{"type", "array"},
          {"items", allOfRef(metaRef("ManagedFieldsEntry"), "")},
          {"description",
           "ManagedFields maps workflow-id and version to the set of fields that "
           "are managed by that workflow."}}},
        {"name", stringProperty("Name must be unique within a namespace. It is a DNS-1123 "
                                "label.")},
        {"namespace", stringProperty("Namespace defines the space within which each name must "
                                     "be unique. Defaults to \"default\".")},
        {"ownerReferences",
         {{"type", "array"},
          {"items", allOfRef(metaRef("OwnerReference"), "")},
          {"description", "List of objects depended by this object."}}},
        {"resourceVersion", stringProperty("An opaque value that represents the internal version "
                                           "of this object. Read-only.")},
        {"selfLink", stringProperty("Deprecated.")},
        {"uid", stringProperty("UID is the unique in time and space value for this object. "
                               "Read-only.")}}}};
}

nlohmann::json listMetaSchema() {
  return {{"type", "object"},
          {"description", "ListMeta describes metadata that synthetic resources must have."},
          {"properties",
           {{"continue", stringProperty("Set when more results are available; unused by "
                                        "siteplane.")},
            {"remainingItemCount", {{"type", "integer"}, {"format", "int64"}}},
            {"resourceVersion", stringProperty("String that identifies the server's internal "
                                               "version of this object.")},
            {"selfLink", stringProperty("Deprecated.")}}}};
}

nlohmann::json statusCauseSchema() {
  return {{"type", "object"},
          {"description", "StatusCause provides more information about an api.Status failure."},
          {"properties",
           {{"field", stringProperty("The field of the resource that has caused this error.")},
            {"message", stringProperty("A human-readable description of the cause of the error.")},
            {"reason", stringProperty("A machine-readable description of the cause of the "
                                      "error.")}}}};
}

nlohmann::json statusDetailsSchema() {
  return {{"type", "object"},
          {"description",
           "StatusDetails is a set of additional properties that MAY be set by the "
           "server to provide additional information about a response."},
          {"properties",
           {{"causes", {{"type", "array"}, {"items", allOfRef(metaRef("StatusCause"), "")}}},
            {"group", stringProperty("The group attribute of the resource.")},
            {"kind", stringProperty("The kind attribute of the resource.")},
            {"name", stringProperty("The name attribute of the resource.")},
            {"retryAfterSeconds", {{"type", "integer"}, {"format", "int32"}}},
            {"uid", stringProperty("UID of the resource.")}}}};
}

nlohmann::json statusSchema() {
  return {{"type", "object"},
          {"description", "Status is a return value for calls that don't return other objects."},
          {"properties",
           {{"apiVersion", stringProperty("APIVersion defines the versioned schema of this "
                                          "representation of an object.")},
            {"code",
             {{"type", "integer"},
              {"format", "int32"},
              {"description",
               "Suggested HTTP "
               "return code."}}},
            {"details", allOfRef(metaRef("StatusDetails"),
                                 "Extended data associated with the "
                                 "reason.")},
            {"kind", stringProperty("Kind is a string value representing the REST resource this "
                                    "object represents.")},
            {"message", stringProperty("A human-readable description of the status of this "
                                       "operation.")},
            {"metadata", allOfRef(metaRef("ListMeta"), "Standard list metadata.")},
            {"reason", stringProperty("A machine-readable description of why this operation is in "
                                      "the \"Failure\" status.")},
            {"status", stringProperty("Status of the operation. One of: \"Success\" or "
                                      "\"Failure\".")}}},
          {"x-kubernetes-group-version-kind",
           nlohmann::json::array({{{"group", ""}, {"kind", "Status"}, {"version", "v1"}}})}};
}

nlohmann::json preconditionsSchema() {
  return {{"type", "object"},
          {"description", "Preconditions must be fulfilled before an operation is carried out."},
          {"properties",
           {{"resourceVersion", stringProperty("Specifies the target ResourceVersion")},
            {"uid", stringProperty("Specifies the target UID.")}}}};
}

nlohmann::json deleteOptionsSchema() {
  return {{"type", "object"},
          {"description", "DeleteOptions may be provided when deleting an API object."},
          {"properties",
           {{"apiVersion", stringProperty("APIVersion of this representation.")},
            {"dryRun", {{"type", "array"}, {"items", {{"type", "string"}, {"default", ""}}}}},
            {"gracePeriodSeconds", {{"type", "integer"}, {"format", "int64"}}},
            {"kind", stringProperty("Kind of this representation.")},
            {"preconditions", allOfRef(metaRef("Preconditions"),
                                       "Must be fulfilled before a "
                                       "deletion is carried out.")},
            {"propagationPolicy", stringProperty("Whether and how garbage collection will be "
                                                 "performed.")}}}};
}

nlohmann::json patchSchema() {
  return {{"type", "object"},
          {"description",
           "Patch is provided to give a concrete name and type to the Kubernetes "
           "PATCH request body."}};
}

// The standard meta.k8s.io/v1 definitions the resource schemas point at, trimmed to the fields
// siteplane serves but spelled exactly as the Kubernetes API publishes them.
nlohmann::json metaDefinitions() {
  const std::pair<const char*, nlohmann::json> definitions[] = {
      // ObjectMeta and the types it refers to.
      {"Time", timeSchema()},
      {"FieldsV1", fieldsV1Schema()},
      {"ManagedFieldsEntry", managedFieldsEntrySchema()},
      {"OwnerReference", ownerReferenceSchema()},
      {"ObjectMeta", objectMetaSchema()},
      // The metadata of a list.
      {"ListMeta", listMetaSchema()},
      // The answer to a failure (and to a delete without an object to return).
      {"StatusCause", statusCauseSchema()},
      {"StatusDetails", statusDetailsSchema()},
      {"Status", statusSchema()},
      // Request bodies.
      {"Preconditions", preconditionsSchema()},
      {"DeleteOptions", deleteOptionsSchema()},
      {"Patch", patchSchema()},
  };
  nlohmann::json schemas;
  for (const auto& [name, schema] : definitions) schemas[std::string(kMeta) + name] = schema;
  return schemas;
}

nlohmann::json queryParameter(const std::string& name, const std::string& type,
                              const std::string& description) {
  return {{"name", name},
          {"in", "query"},
          {"description", description},
          {"schema", {{"type", type}, {"uniqueItems", true}}}};
}

nlohmann::json pathParameter(const std::string& name, const std::string& description) {
  return {{"name", name},
          {"in", "path"},
          {"required", true},
          {"description", description},
          {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
}

nlohmann::json jsonContent(const std::string& ref) {
  nlohmann::json schema = {{"schema", refTo(ref)}};
  return {{"application/json", schema}, {"application/yaml", schema}};
}

nlohmann::json okResponses(const std::string& ref) {
  return {{"200", {{"description", "OK"}, {"content", jsonContent(ref)}}},
          {"401", {{"description", "Unauthorized"}}}};
}

// "Binding" -> "NamespacedBinding"-style operation ids, as Kubernetes names them.
std::string operationId(const std::string& verb, const ResourceType& type,
                        const std::string& suffix) {
  std::string group;
  bool upper = true;
  for (char c : type.group) {
    if (c == '.' || c == '-') {
      upper = true;
      continue;
    }
    group.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  std::string version = type.version;
  if (!version.empty()) version[0] = static_cast<char>(std::toupper(version[0]));
  return verb + group + version + (type.namespaced ? "Namespaced" : "") + type.kind + suffix;
}

nlohmann::json operation(const std::string& verb, const std::string& action,
                         const ResourceType& type, const std::string& suffix,
                         nlohmann::json parameters, const std::string& responseRef) {
  nlohmann::json op = {
      {"operationId", operationId(verb, type, suffix)},
      {"description", verb + " " + (suffix == "List" ? "objects of kind " : "the specified ") +
                          type.kind + (suffix == "Status" ? " status" : "")},
      {"tags", nlohmann::json::array({type.group + "_" + type.version})},
      {"parameters", std::move(parameters)},
      {"responses", okResponses(responseRef)},
      {"x-kubernetes-action", action},
      {"x-kubernetes-group-version-kind",
       {{"group", type.group}, {"version", type.version}, {"kind", type.kind}}}};
  return op;
}

nlohmann::json writeParameters(bool patch) {
  nlohmann::json params = nlohmann::json::array(
      {queryParameter("dryRun", "string",
                      "When present, indicates that modifications should not be persisted. The "
                      "only valid value is All."),
       queryParameter("fieldManager", "string",
                      "fieldManager is a name associated with the actor or entity that is "
                      "making these changes."),
       queryParameter("fieldValidation", "string",
                      "How the server treats unknown fields: Ignore, Warn or Strict.")});
  if (patch) {
    params.push_back(queryParameter("force", "boolean",
                                    "Force is going to \"force\" Apply requests: it re-acquires "
                                    "conflicting fields owned by other managers."));
  }
  return params;
}

nlohmann::json listParameters() {
  return nlohmann::json::array(
      {queryParameter("labelSelector", "string",
                      "A selector to restrict the list of returned objects by their labels."),
       queryParameter("fieldSelector", "string",
                      "A selector to restrict the list of returned objects by their fields."),
       queryParameter("resourceVersion", "string", "Where a list or watch starts."),
       queryParameter("timeoutSeconds", "integer", "Timeout for the list/watch call."),
       queryParameter("watch", "boolean", "Watch for changes to the described resources."),
       queryParameter("allowWatchBookmarks", "boolean",
                      "Requests watch events with type "
                      "BOOKMARK.")});
}

nlohmann::json resourceSchema(const ResourceType& type) {
  nlohmann::json schema = type.schema.is_object() ? type.schema : nlohmann::json::object();
  if (!schema.contains("type")) schema["type"] = "object";
  nlohmann::json& properties = schema["properties"];
  if (!properties.is_object()) properties = nlohmann::json::object();
  properties["apiVersion"] = stringProperty(
      "APIVersion defines the versioned schema of this representation of an object.");
  properties["kind"] = stringProperty(
      "Kind is a string value representing the REST resource this object "
      "represents.");
  properties["metadata"] = allOfRef(metaRef("ObjectMeta"), "Standard object's metadata.");
  schema["x-kubernetes-group-version-kind"] = nlohmann::json::array(
      {{{"group", type.group}, {"kind", type.kind}, {"version", type.version}}});
  return schema;
}

nlohmann::json listSchema(const ResourceType& type, const std::string& itemRef) {
  return {{"type", "object"},
          {"description", type.listKind + " is a list of " + type.kind},
          {"required", {"items"}},
          {"properties",
           {{"apiVersion", stringProperty("APIVersion defines the versioned schema of this "
                                          "representation of an object.")},
            {"items",
             {{"type", "array"},
              {"description", "List of " + type.plural + "."},
              {"items", refTo(itemRef)}}},
            {"kind", stringProperty("Kind is a string value representing the REST resource "
                                    "this object represents.")},
            {"metadata", allOfRef(metaRef("ListMeta"), "Standard list metadata.")}}},
          {"x-kubernetes-group-version-kind",
           nlohmann::json::array(
               {{{"group", type.group}, {"kind", type.listKind}, {"version", type.version}}})}};
}

void addPaths(nlohmann::json& paths, const ResourceType& type) {
  const std::string objectRef = "#/components/schemas/" + OpenApi::definitionName(type, type.kind);
  const std::string listRef =
      "#/components/schemas/" + OpenApi::definitionName(type, type.listKind);
  const std::string base = type.groupVersionPath();
  const std::string collection =
      base + (type.namespaced ? "/namespaces/{namespace}/" : "/") + type.plural;
  nlohmann::json common = nlohmann::json::array();
  if (type.namespaced) common.push_back(pathParameter("namespace", "object name and auth scope"));
  nlohmann::json named = common;
  named.push_back(pathParameter("name", "name of the " + type.kind));

  nlohmann::json body = {{"required", true}, {"content", jsonContent(objectRef)}};
  nlohmann::json patchBody = {
      {"required", true},
      {"content",
       {{"application/apply-patch+yaml", {{"schema", refTo(metaRef("Patch"))}}},
        {"application/json-patch+json", {{"schema", refTo(metaRef("Patch"))}}},
        {"application/merge-patch+json", {{"schema", refTo(metaRef("Patch"))}}}}}};

  nlohmann::json& collectionPath = paths[collection];
  collectionPath["parameters"] = common;
  collectionPath["get"] = operation("list", "list", type, "", listParameters(), listRef);
  collectionPath["get"]["operationId"] = operationId("list", type, "");
  collectionPath["post"] = operation("create", "post", type, "", writeParameters(false), objectRef);
  collectionPath["post"]["requestBody"] = body;

  nlohmann::json& item = paths[collection + "/{name}"];
  item["parameters"] = named;
  item["get"] = operation("read", "get", type, "", nlohmann::json::array(), objectRef);
  item["put"] = operation("replace", "put", type, "", writeParameters(false), objectRef);
  item["put"]["requestBody"] = body;
  item["patch"] = operation("patch", "patch", type, "", writeParameters(true), objectRef);
  item["patch"]["requestBody"] = patchBody;
  item["delete"] = operation("delete", "delete", type, "",
                             nlohmann::json::array({queryParameter(
                                 "dryRun", "string", "When present, nothing is deleted.")}),
                             metaRef("Status"));

  if (type.statusSubresource) {
    nlohmann::json& status = paths[collection + "/{name}/status"];
    status["parameters"] = named;
    status["get"] = operation("read", "get", type, "Status", nlohmann::json::array(), objectRef);
    status["put"] = operation("replace", "put", type, "Status", writeParameters(false), objectRef);
    status["put"]["requestBody"] = body;
    status["patch"] = operation("patch", "patch", type, "Status", writeParameters(true), objectRef);
    status["patch"]["requestBody"] = patchBody;
  }
  if (type.namespaced) {
    nlohmann::json& all = paths[base + "/" + type.plural];
    all["get"] = operation("list", "list", type, "ForAllNamespaces", listParameters(), listRef);
  }
}

}  // namespace

std::string OpenApi::definitionName(const ResourceType& type, const std::string& kind) {
  // Kubernetes reverses the group's DNS labels: siteplane.io -> io.siteplane.
  std::string reversed;
  std::string group = type.group;
  while (!group.empty()) {
    size_t dot = group.rfind('.');
    std::string label = dot == std::string::npos ? group : group.substr(dot + 1);
    group = dot == std::string::npos ? "" : group.substr(0, dot);
    if (!reversed.empty()) reversed += ".";
    reversed += label;
  }
  if (reversed.empty()) reversed = "io.k8s.api.core";
  return reversed + "." + type.version + "." + kind;
}

OpenApi::OpenApi(const ResourceRegistry& registry) {
  index_ = {{"paths", nlohmann::json::object()}};
  // The core group ("", served under /api) first: kubectl validates a core kind (an Event)
  // against the api/v1 document and, finding none, takes the kind for a CRD it cannot look up.
  std::vector<std::string> groups = {""};
  for (const auto& group : registry.groups()) groups.push_back(group);
  for (const auto& group : groups) {
    for (const auto& version : registry.versions(group)) {
      nlohmann::json schemas = metaDefinitions();
      nlohmann::json paths = nlohmann::json::object();
      for (const auto& type : registry.types()) {
        if (type.group != group || type.version != version) continue;
        std::string objectName = definitionName(type, type.kind);
        schemas[objectName] = resourceSchema(type);
        schemas[definitionName(type, type.listKind)] =
            listSchema(type, "#/components/schemas/" + objectName);
        addPaths(paths, type);
      }
      nlohmann::json document = {
          {"openapi", "3.0.0"},
          {"info", {{"title", "siteplane"}, {"version", version}}},
          {"paths", paths},
          {"components",
           {{"schemas", schemas},
            {"securitySchemes",
             {{"BearerToken",
               {{"type", "apiKey"}, {"name", "authorization"}, {"in", "header"}}}}}}}};
      std::string key = group.empty() ? "api/" + version : "apis/" + group + "/" + version;
      // The hash lets clients cache the document; it changes only when the document does.
      char hash[32];
      std::snprintf(hash, sizeof hash, "%016zX", std::hash<std::string>{}(document.dump()));
      index_["paths"][key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hash}};
      documents_[key] = std::move(document);
    }
  }
}

const nlohmann::json* OpenApi::document(const std::string& key) const {
  auto it = documents_.find(key);
  return it == documents_.end() ? nullptr : &it->second;
}

}  // namespace siteplane::apiserver
