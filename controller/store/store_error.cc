#include "controller/store/store_error.h"

namespace siteplane::store {

int StoreError::httpStatus() const {
  switch (code) {
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kConflict:
      return 409;
    case Code::kInvalid:
      return 422;
    case Code::kExpired:
      return 410;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

std::string_view StoreError::reason() const { return toString(code); }

const char* toString(StoreError::Code code) {
  switch (code) {
    case StoreError::Code::kNotFound:
      return "NotFound";
    case StoreError::Code::kAlreadyExists:
      return "AlreadyExists";
    case StoreError::Code::kConflict:
      return "Conflict";
    case StoreError::Code::kInvalid:
      return "Invalid";
    case StoreError::Code::kExpired:
      return "Expired";
    case StoreError::Code::kInternal:
      return "InternalError";
  }
  return "InternalError";
}

}  // namespace siteplane::store
