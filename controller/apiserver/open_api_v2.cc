#include "controller/apiserver/open_api_v2.h"

#include <openssl/evp.h>

#include <cstdio>
#include <string_view>

#include "controller/apiserver/api_error.h"
#include "openapiv2/OpenAPIv2.pb.h"

namespace siteplane::apiserver {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using nlohmann::json;

constexpr std::string_view kProtobufType =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
// The same type as kube-openapi also accepts it, with '.' for '@'.
constexpr std::string_view kProtobufTypeDotted =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

// ---- OpenAPI v3 -> Swagger 2.0, as kube-apiserver publishes a CRD's schema in both ----

std::string v2Ref(const std::string& ref) {
  constexpr std::string_view v3 = "#/components/schemas/";
  return ref.rfind(v3, 0) == 0 ? "#/definitions/" + ref.substr(v3.size()) : ref;
}

// Swagger 2.0 has no nullable, anyOf, oneOf or not; kube-apiserver drops them (and the type of a
// nullable or int-or-string value, which v2 cannot express) so that old clients do not reject
// values the server accepts. Value-validation allOf goes too; an allOf that only wraps a $ref to
// give it a description becomes the $ref with a description beside it, the v2 spelling.
json v2Schema(const json& schema) {
  if (!schema.is_object()) return schema;
  json out = json::object();
  for (const auto& [key, value] : schema.items()) {
    if (key == "nullable" || key == "anyOf" || key == "oneOf" || key == "not") continue;
    if (key == "$ref") {
      out["$ref"] = v2Ref(value.get<std::string>());
    } else if (key == "allOf") {
      if (value.size() == 1 && value[0].is_object() && value[0].contains("$ref"))
        out["$ref"] = v2Ref(value[0]["$ref"].get<std::string>());
    } else if (key == "properties" && value.is_object()) {
      json& properties = out["properties"] = json::object();
      for (const auto& [name, property] : value.items()) properties[name] = v2Schema(property);
    } else if (key == "items" || key == "additionalProperties") {
      out[key] = v2Schema(value);
    } else {
      out[key] = value;
    }
  }
  if (schema.value("nullable", false)) {
    for (const char* key : {"type", "properties", "items", "additionalProperties"}) out.erase(key);
  }
  if (schema.value("x-kubernetes-int-or-string", false)) out.erase("type");
  if (schema.value("x-kubernetes-preserve-unknown-fields", false)) {
    // Unknown fields are kept: a v2 client validating against `properties` would refuse them.
    out.erase("properties");
    out.erase("additionalProperties");
  }
  return out;
}

// A v3 parameter's `schema` ({type, uniqueItems}) is spelled inline in v2.
json v2Parameter(const json& parameter) {
  json out = parameter;
  out.erase("schema");
  if (parameter.contains("schema"))
    for (const auto& [key, value] : parameter["schema"].items()) out[key] = value;
  return out;
}

json contentTypes(const json& content) {
  json types = json::array();
  for (const auto& [type, ignored] : content.items()) types.push_back(type);
  return types;
}

const json* contentSchema(const json& content) {
  if (!content.is_object() || content.empty()) return nullptr;
  auto it = content.find("application/json");
  if (it == content.end()) it = content.begin();
  return it->contains("schema") ? &(*it)["schema"] : nullptr;
}

json v2Operation(const json& operation) {
  json out = json::object();
  json parameters = json::array();
  json produces = json::array();
  for (const auto& [key, value] : operation.items()) {
    if (key == "parameters") {
      for (const auto& parameter : value) parameters.push_back(v2Parameter(parameter));
    } else if (key == "requestBody") {
      json body = {{"name", "body"}, {"in", "body"}, {"required", value.value("required", false)}};
      const json content = value.value("content", json::object());
      if (const json* schema = contentSchema(content)) body["schema"] = v2Schema(*schema);
      out["consumes"] = contentTypes(content);
      parameters.push_back(std::move(body));
    } else if (key == "responses") {
      json& responses = out["responses"] = json::object();
      for (const auto& [code, response] : value.items()) {
        json v2 = {{"description", response.value("description", "")}};
        const json content = response.value("content", json::object());
        if (const json* schema = contentSchema(content)) v2["schema"] = v2Schema(*schema);
        if (produces.empty()) produces = contentTypes(content);
        responses[code] = std::move(v2);
      }
    } else {
      out[key] = value;
    }
  }
  if (!parameters.empty()) out["parameters"] = std::move(parameters);
  if (!produces.empty()) out["produces"] = std::move(produces);
  out["schemes"] = json::array({"https"});
  return out;
}

json v2Document(const OpenApi& v3) {
  json definitions = json::object();
  json paths = json::object();
  for (const auto& [key, ignored] : v3.index()["paths"].items()) {
    const json* document = v3.document(key);
    if (document == nullptr) continue;
    for (const auto& [name, schema] : (*document)["components"]["schemas"].items())
      definitions[name] = v2Schema(schema);
    for (const auto& [path, item] : (*document)["paths"].items()) {
      json& v2 = paths[path] = json::object();
      for (const auto& [field, value] : item.items()) {
        if (field == "parameters") {
          v2[field] = json::array();
          for (const auto& parameter : value) v2[field].push_back(v2Parameter(parameter));
        } else {
          v2[field] = v2Operation(value);
        }
      }
    }
  }
  return {{"swagger", "2.0"},
          {"info", {{"title", "siteplane"}, {"version", "v1alpha1"}}},
          {"paths", std::move(paths)},
          {"definitions", std::move(definitions)}};
}

// ---- Swagger 2.0 JSON -> gnostic's openapi_v2.Document ----
//
// gnostic's messages follow the JSON closely, so one reflective walk fills them: a key is the
// field whose JSON name it is ("$ref" is `_ref`), "x-..." keys are `vendor_extension`s, maps are
// messages holding one repeated Named* field, free-form values (default, enum, extensions) are
// `Any` carrying their YAML (JSON is YAML), and the few oneof wrappers are chosen as gnostic's
// own parser chooses them. Anything without a place in the message is an error naming its
// path, never dropped.

class ProtoBuilder {
 public:
  std::string error;

  bool fill(const json& value, Message& message, const std::string& where) {
    const Descriptor& type = *message.GetDescriptor();
    const Reflection& reflection = *message.GetReflection();
    const std::string& name = type.name();
    if (name == "Any") {
      reflection.SetString(&message, type.FindFieldByName("yaml"), value.dump() + "\n");
      return true;
    }
    if (name == "TypeItem") {
      const FieldDescriptor* field = type.FindFieldByName("value");
      for (const auto& item : value.is_array() ? value : json::array({value})) {
        if (!item.is_string()) return fail(where, "a type is a string");
        reflection.AddString(&message, field, item.get<std::string>());
      }
      return true;
    }
    if (name == "ItemsItem") {
      const FieldDescriptor* field = type.FindFieldByName("schema");
      for (const auto& item : value.is_array() ? value : json::array({value}))
        if (!fill(item, *reflection.AddMessage(&message, field), where)) return false;
      return true;
    }
    if (name == "AdditionalPropertiesItem") {
      if (value.is_boolean()) {
        reflection.SetBool(&message, type.FindFieldByName("boolean"), value.get<bool>());
        return true;
      }
      return fillField(value, message, "schema", where);
    }
    if (name == "SchemaItem") return fillField(value, message, "schema", where);
    if (name == "ParametersItem" || name == "ResponseValue") {
      if (value.contains("$ref")) return fillField(value, message, "json_reference", where);
      return fillField(value, message, name == "ParametersItem" ? "parameter" : "response", where);
    }
    if (name == "Parameter") {
      bool body = value.value("in", "") == "body";
      return fillField(value, message, body ? "body_parameter" : "non_body_parameter", where);
    }
    if (name == "NonBodyParameter") {
      std::string in = value.value("in", "");
      const char* field = in == "query"      ? "query_parameter_sub_schema"
                          : in == "path"     ? "path_parameter_sub_schema"
                          : in == "header"   ? "header_parameter_sub_schema"
                          : in == "formData" ? "form_data_parameter_sub_schema"
                                             : nullptr;
      if (field == nullptr) return fail(where, "unknown parameter location \"" + in + "\"");
      return fillField(value, message, field, where);
    }
    if (!value.is_object()) return fail(where, "an object is expected");
    const FieldDescriptor* named = namedField(type);
    for (const auto& [key, item] : value.items()) {
      std::string at = where + "/" + key;
      if (key.rfind("x-", 0) == 0) {
        if (!addNamed(type.FindFieldByName("vendor_extension"), key, item, message, at))
          return false;
      } else if (named != nullptr) {
        if (!addNamed(named, key, item, message, at)) return false;
      } else {
        const FieldDescriptor* field =
            key == "$ref" ? type.FindFieldByName("_ref") : type.FindFieldByCamelcaseName(key);
        if (field == nullptr) return fail(at, "has no place in openapi_v2." + name);
        if (!setField(item, message, *field, at)) return false;
      }
    }
    return true;
  }

 private:
  bool fail(const std::string& where, const std::string& what) {
    error = where + ": " + what;
    return false;
  }

  // The repeated Named* field of a map message (Definitions, Properties, Paths, Responses).
  static const FieldDescriptor* namedField(const Descriptor& type) {
    for (int i = 0; i < type.field_count(); ++i) {
      const FieldDescriptor* field = type.field(i);
      if (field->name() == "vendor_extension") continue;
      if (!field->is_repeated() || field->message_type() == nullptr ||
          field->message_type()->name().rfind("Named", 0) != 0)
        return nullptr;
      if (type.field_count() > 2) return nullptr;
      return field;
    }
    return nullptr;
  }

  bool addNamed(const FieldDescriptor* field, const std::string& key, const json& value,
                Message& message, const std::string& where) {
    if (field == nullptr) return fail(where, "extensions have no place here");
    Message* entry = message.GetReflection()->AddMessage(&message, field);
    const Descriptor& type = *entry->GetDescriptor();
    entry->GetReflection()->SetString(entry, type.FindFieldByName("name"), key);
    return fill(value,
                *entry->GetReflection()->MutableMessage(entry, type.FindFieldByName("value")),
                where);
  }

  bool fillField(const json& value, Message& message, const char* name, const std::string& where) {
    const FieldDescriptor* field = message.GetDescriptor()->FindFieldByName(name);
    return fill(value, *message.GetReflection()->MutableMessage(&message, field), where);
  }

  bool setField(const json& value, Message& message, const FieldDescriptor& field,
                const std::string& where) {
    const Reflection& reflection = *message.GetReflection();
    if (field.is_repeated()) {
      if (!value.is_array()) return fail(where, "an array is expected");
      for (size_t i = 0; i < value.size(); ++i) {
        std::string at = where + "/" + std::to_string(i);
        if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          if (!fill(value[i], *reflection.AddMessage(&message, &field), at)) return false;
        } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_STRING && value[i].is_string()) {
          reflection.AddString(&message, &field, value[i].get<std::string>());
        } else {
          return fail(at, "a string is expected");
        }
      }
      return true;
    }
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return fill(value, *reflection.MutableMessage(&message, &field), where);
      case FieldDescriptor::CPPTYPE_STRING:
        if (!value.is_string()) return fail(where, "a string is expected");
        reflection.SetString(&message, &field, value.get<std::string>());
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        if (!value.is_boolean()) return fail(where, "a boolean is expected");
        reflection.SetBool(&message, &field, value.get<bool>());
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        if (!value.is_number_integer()) return fail(where, "an integer is expected");
        reflection.SetInt64(&message, &field, value.get<int64_t>());
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        if (!value.is_number()) return fail(where, "a number is expected");
        reflection.SetDouble(&message, &field, value.get<double>());
        return true;
      default:
        return fail(where, "unsupported field type");
    }
  }
};

// A strong ETag over the bytes, quoted as HTTP wants it.
std::string etagOf(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex = "\"";
  char pair[3];
  for (unsigned int i = 0; i < length / 2; ++i) {
    std::snprintf(pair, sizeof pair, "%02X", digest[i]);
    hex += pair;
  }
  return hex + "\"";
}

bool etagMatches(const std::string& ifNoneMatch, const std::string& etag) {
  if (ifNoneMatch.empty()) return false;
  if (ifNoneMatch.find('*') != std::string::npos) return true;
  return ifNoneMatch.find(etag) != std::string::npos;
}

}  // namespace

OpenApiV2::OpenApiV2(const OpenApi& v3) : document_(v2Document(v3)) {
  json_ = document_.dump();
  jsonEtag_ = etagOf(json_);
  openapi::v2::Document message;
  ProtoBuilder builder;
  if (!builder.fill(document_, message, "")) {
    protobufError_ = "the OpenAPI v2 document has no protobuf encoding: " + builder.error;
  } else if (!message.SerializeToString(&protobuf_)) {
    protobufError_ = "the OpenAPI v2 document could not be serialized";
    protobuf_.clear();
  } else {
    protobufEtag_ = etagOf(protobuf_);
  }
}

ApiResponse OpenApiV2::respond(const ApiRequest& request, bool protobufOnly) const {
  // Content negotiation as kube-openapi does it: the first acceptable range in the client's
  // order of preference (q) wins; no Accept header means anything.
  std::string accept = request.header("Accept");
  std::vector<MediaType> ranges = parseMediaTypes(accept.empty() ? "*/*" : accept);
  std::stable_sort(ranges.begin(), ranges.end(), [](const MediaType& a, const MediaType& b) {
    auto q = [](const MediaType& m) {
      std::string value = m.param("q");
      return value.empty() ? 1.0 : std::atof(value.c_str());
    };
    return q(a) > q(b);
  });
  bool protobuf = false;
  bool chosen = false;
  for (const MediaType& range : ranges) {
    std::string q = range.param("q");
    if (!q.empty() && std::atof(q.c_str()) <= 0) continue;
    if (range.type == kProtobufType || range.type == kProtobufTypeDotted) {
      protobuf = chosen = true;
    } else if (range.type == "application/json" && !protobufOnly) {
      chosen = true;
    } else if (range.type == "*/*" || range.type == "application/*") {
      protobuf = protobufOnly;
      chosen = true;
    }
    if (chosen) break;
  }
  if (!chosen) {
    return ApiError::notAcceptable("only the following media types are accepted: " +
                                   (protobufOnly ? "" : std::string("application/json, ")) +
                                   std::string(kProtobufType))
        .toResponse();
  }
  if (protobuf && protobuf_.empty()) return ApiError::internal(protobufError_).toResponse();

  ApiResponse response;
  const std::string& etag = protobuf ? protobufEtag_ : jsonEtag_;
  // kube-openapi labels the protobuf application/octet-stream: the requested type has an '@',
  // which is no token character, and Go's mime parser (kubectl's) refuses it as a Content-Type.
  response.contentType = protobuf ? "application/octet-stream" : "application/json";
  response.headers = {{"ETag", etag}, {"Vary", "Accept"}};
  if (etagMatches(request.header("If-None-Match"), etag)) {
    response.status = 304;
    return response;
  }
  response.body = protobuf ? protobuf_ : json_;
  return response;
}

}  // namespace siteplane::apiserver
