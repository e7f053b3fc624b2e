// SPDX-License-Identifier: Apache-2.0
// Purpose: the one HDF5 handle of atrous: RAII ownership of any HDF5 identifier, silencing HDF5's
// automatic error printing, and its error stack as one line. Used by the writer, the Keras
// importer and the output readers (export, preview); no atrous error types here.
#pragma once

#include <hdf5.h>

#include <string>

namespace atrous::h5
{

/// Owns one hid_t of any kind (file, dataset, dataspace, property list, type, attribute, group)
/// and closes it with H5Idec_ref. Move-only.
class Handle
{
public:
    Handle() = default;
    explicit Handle(hid_t id) : m_id(id) {}
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept : m_id(other.m_id) { other.m_id = H5I_INVALID_HID; }
    Handle& operator=(Handle&& other) noexcept
    {
        if (this != &other)
        {
            reset();
            m_id = other.m_id;
            other.m_id = H5I_INVALID_HID;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    hid_t get() const { return m_id; }
    explicit operator bool() const { return m_id >= 0; }
    /// Closes now; returns false when HDF5 reported an error (e.g. a flush failing at close).
    bool close();
    void reset();
    /// Gives the identifier up without closing it (an MPI-IO file cannot be closed by one rank
    /// alone: that would wait for the others forever).
    hid_t release()
    {
        const hid_t id = m_id;
        m_id = H5I_INVALID_HID;
        return id;
    }

private:
    hid_t m_id = H5I_INVALID_HID;
};

/// RAII: turns HDF5's automatic error printing off for its lifetime and restores the previous
/// handler (HDF5's handler is process-wide in a non-thread-safe build: hold it only while calling
/// HDF5, which the caller serializes).
class SilenceErrors
{
public:
    SilenceErrors();
    ~SilenceErrors();
    SilenceErrors(const SilenceErrors&) = delete;
    SilenceErrors& operator=(const SilenceErrors&) = delete;

private:
    H5E_auto2_t m_func = nullptr;
    void* m_data = nullptr;
};

/// The current thread's HDF5 error stack as one line ("H5Dwrite(): can't write data; ...:
/// No space left on device"), then clears it. Empty when the stack is empty.
std::string error_stack();

} // namespace atrous::h5
