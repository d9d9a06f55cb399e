// The cost of more views of a newly detected face (TrackerOptions::refine_new, `--refine N`): the
// tracker's backend on the shipped model ($LDDMM_MODEL or models/; batch norms folded, channels-last, as the
// tracker runs it), one face in a 640×480 frame: the first pass alone, then with N refinements
// (refine_faces), whose views alternate between the mirror image of the crop the landmarks imply and the
// crop.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <opencv2/core.hpp>

#include "bench_main.hpp"
#include "lddmm/track/tracker.hpp"

namespace {

void BM_NewFace(benchmark::State& state) {
  static std::unique_ptr<lddmm::AlignBackend> backend = [] {
    lddmm::LddmmBackendOptions o;
    o.device = "cpu";
    o.grid_cells = 0;
    return lddmm::make_lddmm_backend(lddmm::load_model(lddmm::default_model_path()), o);
  }();
  cv::Mat frame(480, 640, CV_8UC3);
  cv::randu(frame, cv::Scalar::all(0), cv::Scalar::all(255));
  lddmm::FaceCrop crop;
  crop.centre = {320, 240};
  crop.side = 180;
  const int passes = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<lddmm::FaceCrop> crops{crop};
    std::vector<lddmm::AlignedFace> faces = backend->align(frame, crops, false);
    lddmm::refine_faces(*backend, frame, crops, faces, passes);
    benchmark::DoNotOptimize(faces.front().points.data());
  }
}

BENCHMARK(BM_NewFace)
    ->ArgName("refine")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->Arg(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
