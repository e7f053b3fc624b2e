// SPDX-License-Identifier: Apache-2.0
// Purpose: the float32 NHWC tensor the engine and the stages exchange.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace atrous::infer
{

/// Dimensions of an NHWC tensor. A Dense/Flatten output is n x 1 x 1 x c.
struct Shape
{
    int n = 1;
    int h = 1;
    int w = 1;
    int c = 1;

    std::size_t size() const
    {
        return static_cast<std::size_t>(n) * static_cast<std::size_t>(h) *
               static_cast<std::size_t>(w) * static_cast<std::size_t>(c);
    }
    friend bool operator==(const Shape&, const Shape&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s)
{
    return os << "(" << s.n << "," << s.h << "," << s.w << "," << s.c << ")";
}

/// Float32 tensor in NHWC order (channels fastest). Owning and contiguous unless made by view().
/// Value type: copies copy (a copy of a view is an owning, contiguous tensor).
class Tensor
{
public:
    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f) : m_shape(s), m_data(s.size(), fill) {}
    /// Adopts `storage` (exactly s.size() floats, NHWC order) without copying it.
    Tensor(Shape s, std::vector<float>&& storage) : m_shape(s), m_data(std::move(storage))
    {
        if (m_data.size() != m_shape.size())
            throw std::invalid_argument("Tensor: storage size does not match the shape");
    }

    /// A non-owning view of `s` at `data`, whose pixels lie `pixel_stride` floats apart (0 or
    /// s.c: contiguous; more: a channel slice of a wider NHWC buffer, e.g. one input's channels
    /// of a concatenation). The buffer must outlive the view; moving a view moves the handle.
    static Tensor view(Shape s, float* data, int pixel_stride = 0)
    {
        assert(pixel_stride == 0 || pixel_stride >= s.c);
        Tensor t;
        t.m_shape = s;
        t.m_view = data;
        t.m_pixel_stride = pixel_stride > 0 ? pixel_stride : s.c;
        return t;
    }

    Tensor(const Tensor& other) : m_shape(other.m_shape)
    {
        if (!other.m_view)
        {
            m_data = other.m_data;
            return;
        }
        m_data.resize(m_shape.size());
        const std::size_t pixels = m_shape.size() / (m_shape.c > 0 ? m_shape.c : 1);
        for (std::size_t p = 0; p < pixels && m_shape.c > 0; ++p)
            for (int c = 0; c < m_shape.c; ++c)
                m_data[p * m_shape.c + c] = other.m_view[p * other.m_pixel_stride + c];
    }
    Tensor& operator=(const Tensor& other)
    {
        if (this != &other)
            *this = Tensor(other);
        return *this;
    }
    Tensor(Tensor&& other) noexcept
        : m_shape(other.m_shape), m_data(std::move(other.m_data)), m_view(other.m_view),
          m_pixel_stride(other.m_pixel_stride)
    {
        other.m_shape = Shape{0, 0, 0, 0};
        other.m_view = nullptr;
        other.m_pixel_stride = 0;
    }
    Tensor& operator=(Tensor&& other) noexcept
    {
        m_shape = other.m_shape;
        m_data = std::move(other.m_data);
        m_view = other.m_view;
        m_pixel_stride = other.m_pixel_stride;
        other.m_shape = Shape{0, 0, 0, 0};
        other.m_data.clear();
        other.m_view = nullptr;
        other.m_pixel_stride = 0;
        return *this;
    }
    ~Tensor() = default;

    const Shape& shape() const { return m_shape; }
    /// Number of elements (n*h*w*c); for a strided view not the extent of its memory.
    std::size_t size() const { return m_view ? m_shape.size() : m_data.size(); }
    float* data() { return m_view ? m_view : m_data.data(); }
    const float* data() const { return m_view ? m_view : m_data.data(); }
    bool is_view() const { return m_view != nullptr; }
    /// Floats from one pixel to the next: c for a contiguous tensor, more for a channel slice.
    int pixel_stride() const { return m_view ? m_pixel_stride : m_shape.c; }
    /// True when the elements are contiguous (data()[0, size()) holds them all in NHWC order).
    bool contiguous() const { return pixel_stride() == m_shape.c; }

    float& at(int n, int y, int x, int c) { return data()[index(n, y, x, c)]; }
    float at(int n, int y, int x, int c) const { return data()[index(n, y, x, c)]; }

    /// Hands the storage over (NHWC, size() floats; a view's elements are copied out) and leaves
    /// the tensor empty.
    std::vector<float> release() &&
    {
        if (m_view)
        {
            Tensor owned(*this);
            *this = Tensor();
            return std::move(owned.m_data);
        }
        m_shape = Shape{0, 0, 0, 0};
        return std::move(m_data);
    }

    std::size_t index(int n, int y, int x, int c) const
    {
        assert(n >= 0 && n < m_shape.n && y >= 0 && y < m_shape.h && x >= 0 && x < m_shape.w &&
               c >= 0 && c < m_shape.c);
        return ((static_cast<std::size_t>(n) * m_shape.h + y) * m_shape.w + x) *
                   static_cast<std::size_t>(pixel_stride()) +
               c;
    }

private:
    Shape m_shape{0, 0, 0, 0};
    std::vector<float> m_data;
    float* m_view = nullptr; // set: a non-owning view (m_data empty)
    int m_pixel_stride = 0;  // views only
};

} // namespace atrous::infer
