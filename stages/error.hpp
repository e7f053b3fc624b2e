// SPDX-License-Identifier: Apache-2.0
// Purpose: the error types every stage throws; main() maps each class to one exit status.
#pragma once

#include <stdexcept>
#include <string>

namespace atrous
{

/// Base of all errors atrous raises on purpose. what() reads "<where>: <what>", e.g.
/// "read.gdal: /data/x.tif: not a raster" or "layer conv2d_7: kernel shape (3,3,64,128) expected,
/// (3,3,32,128) found". exit_code() is the process exit status main() returns for it.
class Error : public std::runtime_error
{
public:
    Error(const std::string& where, const std::string& what)
        : std::runtime_error(where.empty() ? what : where + ": " + what)
    {
    }
    virtual int exit_code() const { return 70; }
};

/// Bad command line or configuration (YAML syntax, unknown key, wrong type, failed check).
struct ConfigError : Error
{
    using Error::Error;
    int exit_code() const override { return 2; }
};

/// Input raster missing, unreadable, not a raster, or not what the model needs.
struct InputError : Error
{
    using Error::Error;
    int exit_code() const override { return 3; }
};

/// Model file or architecture unusable: not Keras, wrong shapes, unsupported layer, cycles.
struct ModelError : Error
{
    using Error::Error;
    int exit_code() const override { return 4; }
};

/// Output cannot be written: directory missing or not writable, disk full, locked.
struct OutputError : Error
{
    using Error::Error;
    int exit_code() const override { return 5; }
};

/// The run was interrupted (SIGTERM/SIGINT/SIGUSR1) after progress was saved: requeue to resume.
struct InterruptedError : Error
{
    using Error::Error;
    int exit_code() const override { return 75; }
};

} // namespace atrous
