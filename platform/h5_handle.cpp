// SPDX-License-Identifier: Apache-2.0
// Purpose: HDF5 handle ownership, silencing and error-stack walking.
#include "h5_handle.hpp"

#include <algorithm>
#include <vector>

namespace atrous::h5
{

namespace
{

// HDF5 1.10.8 crashes at exit (H5_term_library -> H5D_close) once an H5Fclose has failed, e.g. on
// a full disk, turning exit status 5 into a segmentation fault. atrous closes its files itself,
// so the library's exit-time cleanup is not needed: switch it off before HDF5's first use (a
// no-op when the library is already initialized). Process-wide, on purpose.
[[maybe_unused]] const herr_t no_cleanup_at_exit = H5dont_atexit();

} // namespace

void Handle::reset()
{
    if (m_id >= 0)
    {
        SilenceErrors quiet;
        H5Idec_ref(m_id);
        H5Eclear2(H5E_DEFAULT);
    }
    m_id = H5I_INVALID_HID;
}

bool Handle::close()
{
    if (m_id < 0)
        return true;
    const herr_t status = H5Idec_ref(m_id);
    m_id = H5I_INVALID_HID;
    return status >= 0;
}

SilenceErrors::SilenceErrors()
{
    H5Eget_auto2(H5E_DEFAULT, &m_func, &m_data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceErrors::~SilenceErrors()
{
    H5Eset_auto2(H5E_DEFAULT, m_func, m_data);
}

namespace
{

herr_t collect(unsigned, const H5E_error2_t* e, void* data)
{
    auto* lines = static_cast<std::vector<std::string>*>(data);
    std::string desc = e->desc != nullptr ? e->desc : "";
    // I/O failures read "file write failed: time = ..., errno = 28, error message = 'No space
    // left on device', buf = ...": keep the head and the system's message.
    const std::string key = "error message = '";
    const std::size_t at = desc.find(key);
    if (at != std::string::npos)
    {
        const std::size_t start = at + key.size();
        const std::size_t end = desc.find('\'', start);
        const std::string system = desc.substr(start, end - start);
        desc = desc.substr(0, desc.find_first_of(":,")) + " (" + system + ")";
    }
    std::replace(desc.begin(), desc.end(), '\n', ' ');
    std::string line = e->func_name != nullptr ? std::string(e->func_name) + "(): " : "";
    lines->push_back(line + desc);
    return 0;
}

} // namespace

std::string error_stack()
{
    std::vector<std::string> lines;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &lines);
    H5Eclear2(H5E_DEFAULT);
    if (lines.empty())
        return {};
    // The API call that failed, then the innermost cause (which carries errno text for I/O).
    std::string text = lines.front();
    if (lines.size() > 1)
        text += "; " + lines.back();
    return text;
}

} // namespace atrous::h5
