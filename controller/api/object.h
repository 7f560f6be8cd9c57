#pragma once

#include <string>
#include <variant>

#include "common/object_key.h"
#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/api/issuer.h"
#include "controller/api/site.h"

namespace siteplane::api {

// Any siteplane object. The store, the sources and the reconcilers pass objects around in this
// form and dispatch on the alternative.
using Object = std::variant<Site, Binding, Certificate, Issuer>;

// The kinds decodeObject accepts, in the order error messages list them.
inline constexpr const char* kKinds[] = {"Binding", "Certificate", "Issuer", "Site"};

const char* kindOf(const Object& object);
const ObjectMeta& metadataOf(const Object& object);
ObjectMeta& metadataOf(Object& object);
ObjectKey keyOf(const Object& object);

// One line that says what the object declares, e.g.
//   Binding default/contoso-https: https *:443 host=www.contoso.com site=contoso cert=contoso-tls
std::string describe(const Object& object);

}  // namespace siteplane::api
