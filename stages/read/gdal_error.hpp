// SPDX-License-Identifier: Apache-2.0
// Purpose: collects GDAL's error messages for the current thread instead of printing them, so
// failed GDAL calls become atrous errors carrying GDAL's own words.
#pragma once

#include <string>

namespace atrous
{

/// RAII: while alive, GDAL errors and warnings raised on this thread go to this object (GDAL's
/// handler stack is thread-local), not to stderr. Create one around a group of GDAL calls.
class GdalErrorCollector
{
public:
    GdalErrorCollector();
    ~GdalErrorCollector();
    GdalErrorCollector(const GdalErrorCollector&) = delete;
    GdalErrorCollector& operator=(const GdalErrorCollector&) = delete;

    /// The last failure (CE_Failure/CE_Fatal) message, else the last warning, else `fallback`.
    std::string message(const std::string& fallback) const;
    bool failed() const { return !m_failure.empty(); }
    void clear();

    /// Called by the installed handler.
    void record(int error_class, const char* message);

private:
    std::string m_failure;
    std::string m_warning;
};

/// GDALAllRegister() once per process (thread-safe).
void gdal_register_once();

} // namespace atrous
