// Lets Catch2 print kn::Result values: the failure's message on error, "ok" otherwise.
#pragma once

#include "core/error.hpp"

#include <catch2/catch.hpp>

namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, kn::Failure>> {
  static std::string convert(const boost::system::result<T, kn::Failure>& r) {
    return r.has_value() ? std::string("ok") : "error: " + r.error().message;
  }
};
}  // namespace Catch
