// SPDX-License-Identifier: Apache-2.0
// Purpose: GDAL error collection (thread-local handler stack) and one-time driver registration.
#include "gdal_error.hpp"

#include <cpl_error.h>
#include <gdal.h>

#include <mutex>

namespace atrous
{

namespace
{

void CPL_STDCALL collect(CPLErr error_class, CPLErrorNum, const char* message)
{
    auto* self = static_cast<GdalErrorCollector*>(CPLGetErrorHandlerUserData());
    if (self != nullptr)
        self->record(static_cast<int>(error_class), message);
}

} // namespace

GdalErrorCollector::GdalErrorCollector()
{
    CPLPushErrorHandlerEx(collect, this);
}

GdalErrorCollector::~GdalErrorCollector()
{
    CPLPopErrorHandler();
}

void GdalErrorCollector::record(int error_class, const char* message)
{
    const std::string text = message != nullptr ? message : "";
    if (error_class >= CE_Failure)
        m_failure = text;
    else if (error_class == CE_Warning)
        m_warning = text;
}

std::string GdalErrorCollector::message(const std::string& fallback) const
{
    if (!m_failure.empty())
        return m_failure;
    if (!m_warning.empty())
        return m_warning;
    return fallback;
}

void GdalErrorCollector::clear()
{
    m_failure.clear();
    m_warning.clear();
}

void gdal_register_once()
{
    static std::once_flag once;
    std::call_once(once, [] { GDALAllRegister(); });
}

} // namespace atrous
