// Streams frames through a Verilated mbdsl top (class Vtop) and records every output beat
// with its cycle. Generated designs are driven from here rather than beat by beat from
// Python, which is 10-100x faster.
//
// usage: harness INPUT.memh OUTPUT.txt BEATS_PER_FRAME OUT_BEATS_TOTAL P_IN_STALL P_OUT_STALL SEED MAX_CYCLES [+trace] [+drain=N] [+wload=FILE]
// INPUT.memh: one input beat per line, hex, of any width (a port over 64 bits is Verilator's
// VlWide of 32-bit words). OUTPUT.txt: "in FRAME CYCLE" when a frame's
// first beat is accepted, "out CYCLE HEX" for every output beat, "end CYCLE" when the last
// one arrived. Built with MBDSL_WLOAD (a top with run-time weights), +wload=FILE sends
// FILE's 32-bit beats on the weight-load port from the first cycle, with the input's stalls,
// and writes "load CYCLE" when the last is accepted (the top takes no frame before).
// With +drain=N the run goes on after the last output until every input beat
// is in, and then N cycles more (see below).
// Weight streams (weight_streams.h, written beside the build from the design's manifest):
// each is fed its file's words in order and again from the first, and stalls as the input
// does (P_IN).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"
#include "weight_streams.h"

// One input beat as 32-bit words, least significant first.
using Beat = std::vector<uint32_t>;

static Beat parse_beat(const std::string& hex) {
    Beat words;
    for (size_t end = hex.size(); end > 0; end = end > 8 ? end - 8 : 0) {
        const size_t begin = end > 8 ? end - 8 : 0;
        words.push_back(static_cast<uint32_t>(std::stoul(hex.substr(begin, end - begin), nullptr, 16)));
    }
    return words;
}

// The beats of a $readmemh-style file, one a line.
static std::vector<Beat> read_beats(const char* path) {
    std::vector<Beat> beats;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) beats.push_back(parse_beat(line));
    return beats;
}

// A weight stream's words and the next one to offer.
struct WeightStream {
    std::vector<Beat> words;
    size_t next = 0;
};

// Drives an input port with a beat (nullptr: zero): an integer up to 64 bits, or wider a
// VlWide, indexed by 32-bit word.
template <typename Port>
static void drive(Port& port, const Beat* beat) {
    if constexpr (std::is_integral_v<Port>) {
        uint64_t value = 0;
        for (size_t i = 0; beat && i < beat->size() && i < 2; ++i) value |= static_cast<uint64_t>((*beat)[i]) << (32 * i);
        port = static_cast<Port>(value);
    } else {
        for (size_t i = 0; i < Port::Words; ++i) port.at(i) = beat && i < beat->size() ? (*beat)[i] : 0;
    }
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    if (argc < 9) {
        std::fprintf(stderr, "usage: %s INPUT OUTPUT BEATS_PER_FRAME OUT_BEATS P_IN P_OUT SEED MAX_CYCLES [+trace] [+drain=N]\n", argv[0]);
        return 2;
    }
    const std::vector<Beat> beats = read_beats(argv[1]);
#define MBDSL_LOAD(port, file) WeightStream ws_##port{read_beats(file)}; \
    if (ws_##port.words.empty()) { \
        std::fprintf(stderr, "%s: no weight words\n", file); \
        return 2; \
    }
    MBDSL_WEIGHT_STREAMS(MBDSL_LOAD)
    FILE* out = std::fopen(argv[2], "w");
    if (!out) {
        std::perror(argv[2]);
        return 2;
    }
    const uint64_t per_frame = std::stoull(argv[3]);
    const uint64_t want_out = std::stoull(argv[4]);
    const double p_in = std::atof(argv[5]);
    const double p_out = std::atof(argv[6]);
    std::mt19937_64 rng(std::stoull(argv[7]));
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    const uint64_t max_cycles = std::stoull(argv[8]);

    Vtop top;
    top.clk = 0;
    top.rst_n = 0;
    top.s_axis_tvalid = 0;
    top.m_axis_tready = 0;
#define MBDSL_IDLE(port, file) top.port##_tvalid = 0;
    MBDSL_WEIGHT_STREAMS(MBDSL_IDLE)
    for (int i = 0; i < 8; ++i) {
        top.clk = !top.clk;
        top.eval();
    }
    top.rst_n = 1;

    uint64_t drain = 0;
    std::vector<uint32_t> load;
    for (int i = 9; i < argc; ++i) {
        const std::string arg(argv[i]);
        if (arg.rfind("+drain=", 0) == 0) drain = std::stoull(arg.substr(7));
        if (arg.rfind("+wload=", 0) == 0) {
            std::ifstream in(arg.substr(7));
            std::string line;
            while (std::getline(in, line))
                if (!line.empty()) load.push_back(static_cast<uint32_t>(std::stoul(line, nullptr, 16)));
        }
    }

    uint64_t sent = 0, got = 0, cycle = 0, loaded = 0;
    // One clock cycle; outputs are recorded until the expected number has arrived.
    auto step = [&]() {
        const bool offer = sent < beats.size() && !(p_in > 0 && coin(rng) < p_in);
        top.s_axis_tvalid = offer;
        drive(top.s_axis_tdata, offer ? &beats[sent] : nullptr);
#ifdef MBDSL_WLOAD
        const bool load_offer = loaded < load.size() && !(p_in > 0 && coin(rng) < p_in);
        top.wload_tvalid = load_offer;
        top.wload_tdata = load_offer ? load[loaded] : 0;
#endif
        top.m_axis_tready = got >= want_out || !(p_out > 0 && coin(rng) < p_out);
#define MBDSL_OFFER(port, file) top.port##_tvalid = !(p_in > 0 && coin(rng) < p_in); \
    drive(top.port##_tdata, &ws_##port.words[ws_##port.next]);
        MBDSL_WEIGHT_STREAMS(MBDSL_OFFER)
        top.eval();
        const bool in_fire = top.s_axis_tvalid && top.s_axis_tready;
#define MBDSL_TAKEN(port, file) const bool port##_fire = top.port##_tvalid && top.port##_tready;
        MBDSL_WEIGHT_STREAMS(MBDSL_TAKEN)
        const bool out_fire = top.m_axis_tvalid && top.m_axis_tready && got < want_out;
        const uint64_t data = top.m_axis_tdata;
#ifdef MBDSL_WLOAD
        const bool load_fire = top.wload_tvalid && top.wload_tready;
#endif
        top.clk = 1;
        top.eval();
        top.clk = 0;
        top.eval();
#define MBDSL_NEXT(port, file) if (port##_fire) ws_##port.next = (ws_##port.next + 1) % ws_##port.words.size();
        MBDSL_WEIGHT_STREAMS(MBDSL_NEXT)
        if (in_fire) {
            if (sent % per_frame == 0) std::fprintf(out, "in %llu %llu\n", (unsigned long long)(sent / per_frame), (unsigned long long)cycle);
            ++sent;
        }
        if (out_fire) {
            std::fprintf(out, "out %llu %llx\n", (unsigned long long)cycle, (unsigned long long)data);
            ++got;
        }
#ifdef MBDSL_WLOAD
        if (load_fire && ++loaded == load.size()) std::fprintf(out, "load %llu\n", (unsigned long long)cycle);
#endif
        ++cycle;
    };
    while (got < want_out && cycle < max_cycles) step();
    const uint64_t end = cycle;
    // The last frame's last input rows may feed no output (a stride that skips them), but
    // the layers before still pass them on, and their traces must be complete: a traced
    // run goes on until every input beat is in, then ``drain`` cycles more.
    if (drain > 0) {
        uint64_t after = 0;
        while ((sent < beats.size() || after < drain) && cycle < max_cycles) {
            step();
            if (sent == beats.size()) ++after;
        }
    }
    std::fprintf(out, "end %llu\n", (unsigned long long)end);
    top.final();
    std::fclose(out);
    return got == want_out ? 0 : 3;
}
