#include "controller/apiserver/resource_registry.h"

#include <algorithm>

#include "common/json_fields.h"

namespace siteplane::apiserver {
namespace {

std::vector<std::string> stringList(const nlohmann::json& value) {
  std::vector<std::string> out;
  if (!value.is_array()) return out;
  for (const auto& item : value) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string ResourceType::apiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceType::groupResource() const {
  return group.empty() ? plural : plural + "." + group;
}

std::string ResourceType::groupVersionPath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

Result<ResourceRegistry> ResourceRegistry::fromCrds(const std::vector<nlohmann::json>& crds) {
  ResourceRegistry registry;
  for (const auto& crd : crds) {
    std::string crdName = crd.contains("metadata") ? stringMember(crd["metadata"], "name") : "";
    std::string where = "CustomResourceDefinition \"" + crdName + "\"";
    if (stringMember(crd, "kind") != "CustomResourceDefinition") {
      return Result<ResourceRegistry>::error(where + ": kind is not CustomResourceDefinition");
    }
    const nlohmann::json spec = crd.value("spec", nlohmann::json::object());
    const nlohmann::json names = spec.value("names", nlohmann::json::object());
    ResourceType base;
    base.group = stringMember(spec, "group");
    base.kind = stringMember(names, "kind");
    base.plural = stringMember(names, "plural");
    base.singular = stringMember(names, "singular");
    base.listKind = stringMember(names, "listKind");
    base.shortNames = stringList(names.value("shortNames", nlohmann::json()));
    base.categories = stringList(names.value("categories", nlohmann::json()));
    base.namespaced = stringMember(spec, "scope") != "Cluster";
    if (base.group.empty()) return Result<ResourceRegistry>::error(where + ": spec.group is empty");
    if (base.kind.empty() || base.plural.empty()) {
      return Result<ResourceRegistry>::error(where + ": spec.names.kind and plural are required");
    }
    if (base.singular.empty()) base.singular = lowerCase(base.kind);
    if (base.listKind.empty()) base.listKind = base.kind + "List";

    const nlohmann::json versions = spec.value("versions", nlohmann::json::array());
    if (!versions.is_array() || versions.empty()) {
      return Result<ResourceRegistry>::error(where + ": spec.versions is empty");
    }
    for (size_t i = 0; i < versions.size(); ++i) {
      const auto& version = versions[i];
      std::string at = where + ": spec.versions[" + std::to_string(i) + "]";
      if (!version.value("served", true)) continue;
      ResourceType type = base;
      type.version = stringMember(version, "name");
      if (type.version.empty()) return Result<ResourceRegistry>::error(at + ".name is empty");
      if (version.contains("schema") && version["schema"].contains("openAPIV3Schema")) {
        type.schema = version["schema"]["openAPIV3Schema"];
      }
      type.statusSubresource = version.contains("subresources") &&
                               version["subresources"].is_object() &&
                               version["subresources"].contains("status");
      const nlohmann::json columns =
          version.value("additionalPrinterColumns", nlohmann::json::array());
      for (size_t c = 0; c < columns.size(); ++c) {
        const auto& column = columns[c];
        std::string columnAt = at + ".additionalPrinterColumns[" + std::to_string(c) + "]";
        PrinterColumn printer;
        printer.name = stringMember(column, "name");
        printer.type = stringMember(column, "type");
        printer.format = stringMember(column, "format");
        printer.description = stringMember(column, "description");
        printer.jsonPath = stringMember(column, "jsonPath");
        if (column.contains("priority") && column["priority"].is_number_integer()) {
          printer.priority = column["priority"].get<int>();
        }
        if (printer.name.empty() || printer.jsonPath.empty()) {
          return Result<ResourceRegistry>::error(columnAt + ": name and jsonPath are required");
        }
        auto path = JsonPath::parse(printer.jsonPath);
        if (!path) return Result<ResourceRegistry>::error(columnAt + ": " + path.message());
        printer.path = std::move(path).value();
        type.columns.push_back(std::move(printer));
      }
      // A CRD without printer columns gets Kubernetes' default: the object's age.
      if (columns.empty()) {
        PrinterColumn age;
        age.name = "Age";
        age.type = "date";
        age.jsonPath = ".metadata.creationTimestamp";
        age.path = JsonPath::parse(age.jsonPath).value();
        type.columns.push_back(std::move(age));
      }
      registry.add(std::move(type));
    }
  }
  return registry;
}

namespace {

// core/v1 Event as Kubernetes publishes it, so that kubectl validates, creates and explains
// Events (a controller's or an operator's) like any other object.
nlohmann::json coreEventSchema() {
  auto text = [](const char* description) {
    return nlohmann::json{{"type", "string"}, {"description", description}};
  };
  auto time = [](const char* description) {
    return nlohmann::json{
        {"type", "string"}, {"format", "date-time"}, {"description", description}};
  };
  nlohmann::json reference = {
      {"type", "object"},
      {"description", "A reference to an object."},
      {"properties",
       {{"apiVersion", text("API version of the referent.")},
        {"fieldPath", text("The field of the referent the event is about, if any.")},
        {"kind", text("Kind of the referent.")},
        {"name", text("Name of the referent.")},
        {"namespace", text("Namespace of the referent.")},
        {"resourceVersion", text("The referent's resourceVersion the event is about.")},
        {"uid", text("UID of the referent.")}}},
      {"x-kubernetes-map-type", "atomic"}};
  return {{"type", "object"},
          {"description",
           "Event is a report of an event somewhere in the cluster: here, about a siteplane object "
           "or a manifest file."},
          {"required", {"metadata", "involvedObject"}},
          {"properties",
           {{"action", text("What action was taken or failed regarding the involved object.")},
            {"count",
             {{"type", "integer"},
              {"format", "int32"},
              {"description", "The number of times this event has occurred."}}},
            {"eventTime",
             {{"type", "string"},
              {"format", "date-time"},
              {"description", "When this event was first observed (MicroTime)."}}},
            {"firstTimestamp", time("When this event was first recorded.")},
            {"involvedObject", reference},
            {"lastTimestamp", time("When this event was most recently recorded.")},
            {"message", text("A human-readable description of the status of this operation.")},
            {"reason", text("Short, machine understandable reason for the transition, CamelCase.")},
            {"related", reference},
            {"reportingComponent", text("Name of the controller that emitted this event.")},
            {"reportingInstance", text("ID of the controller instance.")},
            {"series",
             {{"type", "object"},
              {"description", "Data about the series this event represents, if any."},
              {"properties",
               {{"count", {{"type", "integer"}, {"format", "int32"}}},
                {"lastObservedTime", {{"type", "string"}, {"format", "date-time"}}}}}}},
            {"source",
             {{"type", "object"},
              {"description", "The component reporting this event."},
              {"properties",
               {{"component", text("Component from which the event is generated.")},
                {"host", text("Node name on which the event is generated.")}}}}},
            {"type", text("Type of this event (Normal, Warning).")}}}};
}

}  // namespace

ResourceType ResourceRegistry::coreEventType() {
  ResourceType type;
  type.group = "";
  type.version = "v1";
  type.kind = "Event";
  type.listKind = "EventList";
  type.plural = "events";
  type.singular = "event";
  type.shortNames = {"ev"};
  type.namespaced = true;
  struct Column {
    const char* name;
    const char* type;
    const char* path;
    int priority;
  };
  // The columns `kubectl get events` shows for the built-in type.
  static const Column kColumns[] = {
      {"Last Seen", "date", ".lastTimestamp", 0}, {"Type", "string", ".type", 0},
      {"Reason", "string", ".reason", 0},         {"Object", "string", ".involvedObject.name", 0},
      {"Message", "string", ".message", 0},       {"Kind", "string", ".involvedObject.kind", 1},
      {"Count", "integer", ".count", 1},
  };
  type.schema = coreEventSchema();
  for (const auto& column : kColumns) {
    PrinterColumn printer;
    printer.name = column.name;
    printer.type = column.type;
    printer.jsonPath = column.path;
    printer.priority = column.priority;
    // The paths above are fixed and valid; parse() cannot fail on them.
    printer.path = JsonPath::parse(printer.jsonPath).value();
    type.columns.push_back(std::move(printer));
  }
  return type;
}

void ResourceRegistry::add(ResourceType type) { types_.push_back(std::move(type)); }

const ResourceType* ResourceRegistry::findByPlural(const std::string& group,
                                                   const std::string& version,
                                                   const std::string& plural) const {
  for (const auto& type : types_) {
    if (type.group == group && type.version == version && type.plural == plural) return &type;
  }
  return nullptr;
}

const ResourceType* ResourceRegistry::findByKind(const std::string& apiVersion,
                                                 const std::string& kind) const {
  for (const auto& type : types_) {
    if (type.apiVersion() == apiVersion && type.kind == kind) return &type;
  }
  return nullptr;
}

std::vector<std::string> ResourceRegistry::versions(const std::string& group) const {
  std::vector<std::string> out;
  for (const auto& type : types_) {
    if (type.group == group && std::find(out.begin(), out.end(), type.version) == out.end()) {
      out.push_back(type.version);
    }
  }
  return out;
}

std::vector<std::string> ResourceRegistry::groups() const {
  std::vector<std::string> out;
  for (const auto& type : types_) {
    if (!type.group.empty() && std::find(out.begin(), out.end(), type.group) == out.end()) {
      out.push_back(type.group);
    }
  }
  return out;
}

}  // namespace siteplane::apiserver
