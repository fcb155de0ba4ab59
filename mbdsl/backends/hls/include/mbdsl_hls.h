// mbdsl_hls.h: the integer and stream types of mbdsl's generated HLS C++.
//
// Under synthesis (__SYNTHESIS__), or with MBDSL_VENDOR_HEADERS defined, this includes
// the vendor's ap_int.h and hls_stream.h. Otherwise it defines minimal stand-ins so that
// the generated code compiles with any C++11 compiler and runs fast:
//   ap_int<W> / ap_uint<W>  (1 <= W <= 64, resp. 63): a native integer of the smallest
//       sufficient size; every construction and assignment wraps to W bits (two's
//       complement for ap_int, modulo 2^W for ap_uint), as the vendor types do.
//       Arithmetic converts to long long, which is exact for the widths mbdsl emits
//       (the generator refuses wider ones).
//   hls::stream<T>: an unbounded FIFO (a growing ring buffer); reading an empty stream
//       aborts. (No <deque> or <string>: they would double every file's compile time.)
// Beats of several elements are mbdsl::vec<T, N> (element 0 in the low bits when packed).
#ifndef MBDSL_HLS_H
#define MBDSL_HLS_H

#if defined(__SYNTHESIS__) || defined(MBDSL_VENDOR_HEADERS)

#include <ap_int.h>
#include <hls_stream.h>

namespace mbdsl {
// Element type of constant arrays (weights, thresholds): the ap type itself.
template <typename T>
struct rom {
    typedef T type;
};
}  // namespace mbdsl

#else

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace mbdsl {
namespace detail {

template <int W, bool S>
struct storage {
    typedef typename std::conditional<
        (W <= 8), typename std::conditional<S, std::int8_t, std::uint8_t>::type,
        typename std::conditional<
            (W <= 16), typename std::conditional<S, std::int16_t, std::uint16_t>::type,
            typename std::conditional<
                (W <= 32), typename std::conditional<S, std::int32_t, std::uint32_t>::type,
                typename std::conditional<S, std::int64_t, std::uint64_t>::type>::type>::type>::type type;
};

// x reduced to W bits: sign-extended if S, zero-extended otherwise.
template <int W, bool S>
constexpr long long wrap(long long x) {
    return W >= 64 ? x
           : S     ? static_cast<long long>(static_cast<unsigned long long>(x) << (64 - W)) >> (64 - W)
                   : static_cast<long long>(static_cast<unsigned long long>(x) & ((1ULL << W) - 1ULL));
}

}  // namespace detail

template <int W, bool S>
class ap_base {
    static_assert(W >= 1 && W <= (S ? 64 : 63), "mbdsl host ap types hold at most 64 bits (63 unsigned)");

public:
    typedef typename detail::storage<W, S>::type storage_t;
    static const int width = W;

    constexpr ap_base() : v_(0) {}
    template <typename X>
    constexpr ap_base(X x) : v_(static_cast<storage_t>(detail::wrap<W, S>(static_cast<long long>(x)))) {}

    constexpr operator long long() const { return static_cast<long long>(v_); }
    constexpr long long to_int64() const { return static_cast<long long>(v_); }
    constexpr int to_int() const { return static_cast<int>(v_); }

    template <typename X>
    ap_base& operator+=(X x) { return *this = ap_base(to_int64() + static_cast<long long>(x)); }
    template <typename X>
    ap_base& operator-=(X x) { return *this = ap_base(to_int64() - static_cast<long long>(x)); }
    template <typename X>
    ap_base& operator*=(X x) { return *this = ap_base(to_int64() * static_cast<long long>(x)); }
    ap_base& operator++() { return *this = ap_base(to_int64() + 1); }
    ap_base& operator--() { return *this = ap_base(to_int64() - 1); }

private:
    storage_t v_;
};

// Element type of constant arrays on the host: the native storage type, because g++
// compiles a million-element initializer of a class type ten times slower.
template <typename T>
struct rom {
    typedef typename T::storage_t type;
};

}  // namespace mbdsl

template <int W>
class ap_int : public mbdsl::ap_base<W, true> {
public:
    constexpr ap_int() : mbdsl::ap_base<W, true>() {}
    template <typename X>
    constexpr ap_int(X x) : mbdsl::ap_base<W, true>(x) {}
};

template <int W>
class ap_uint : public mbdsl::ap_base<W, false> {
public:
    constexpr ap_uint() : mbdsl::ap_base<W, false>() {}
    template <typename X>
    constexpr ap_uint(X x) : mbdsl::ap_base<W, false>(x) {}
};

namespace hls {

template <typename T>
class stream {
public:
    stream() : name_("stream"), buf_(nullptr), cap_(0), head_(0), size_(0) {}
    explicit stream(const char* name) : name_(name), buf_(nullptr), cap_(0), head_(0), size_(0) {}
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    ~stream() { delete[] buf_; }

    void write(const T& x) {
        if (size_ == cap_) grow();
        buf_[(head_ + size_) % cap_] = x;
        size_++;
    }
    T read() {
        if (size_ == 0) {
            std::fprintf(stderr, "mbdsl: read from empty stream '%s'\n", name_);
            std::abort();
        }
        const T x = buf_[head_];
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        size_--;
        return x;
    }
    void read(T& x) { x = read(); }
    bool read_nb(T& x) {
        if (size_ == 0) return false;
        x = read();
        return true;
    }
    bool write_nb(const T& x) {
        write(x);
        return true;
    }
    bool empty() const { return size_ == 0; }
    bool full() const { return false; }
    std::size_t size() const { return size_; }
    stream& operator>>(T& x) {
        x = read();
        return *this;
    }
    stream& operator<<(const T& x) {
        write(x);
        return *this;
    }

private:
    void grow() {
        const std::size_t cap = cap_ ? 2 * cap_ : 64;
        T* buf = new T[cap];
        for (std::size_t i = 0; i < size_; i++) buf[i] = buf_[(head_ + i) % cap_];
        delete[] buf_;
        buf_ = buf;
        cap_ = cap;
        head_ = 0;
    }

    const char* name_;
    T* buf_;
    std::size_t cap_, head_, size_;
};

}  // namespace hls

#endif

namespace mbdsl {

// One stream beat: N elements, element 0 first (lowest bits once packed).
template <typename T, int N>
struct vec {
    T v[N];
};

}  // namespace mbdsl

#endif  // MBDSL_HLS_H
