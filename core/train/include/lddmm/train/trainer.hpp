// Training and evaluation of the aligner on annotated faces.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "lddmm/flow/metrics.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/train/dataset.hpp"

namespace lddmm {

struct TrainOptions {
  std::string device = "auto";  // where it trains (parse_device); from the command line, not the file
  int epochs = 60;
  int batch_size = 32;
  double learning_rate = 1e-3;  // peak of a cosine schedule after a linear warm-up
  int warmup_epochs = 2;
  double weight_decay = 1e-4;
  double beta = 0.1;                 // currents weight of the loss (0 for the coordinate baseline)
  bool point_weighted_loss = false;  // every point weighs the same in the landmark term (CurveLossOptions)
  /// Weight averaging (Polyak/EMA): 0 is off; otherwise after each step average = d·average + (1-d)·weights
  /// for every floating-point parameter and buffer. Validation, best.pt and ema.pt then use the average
  /// (last.pt keeps the raw weights, for resuming).
  double ema_decay = 0;
  uint64_t seed = 1;
  int threads = 0;         // 0: all cores
  int loader_threads = 1;  // threads making the training crops (BatchLoader workers); more feed a GPU
  AugmentOptions augment{true};
  /// Distillation: a model file whose landmarks on each augmented training crop are blended into the
  /// targets, (1 - teacher_weight)·annotation + teacher_weight·teacher (empty: none), or several files
  /// separated by commas, an ensemble whose landmarks are averaged. A teacher's input size may differ: the
  /// crops are then made at the largest of the sizes and resized for each network.
  std::string teacher;
  double teacher_weight = 0.5;
  bool teacher_mirror = true;  // the teacher averages in its prediction on the mirrored crop
  /// The teacher's refinement passes on each crop (0: one pass, averaged with its mirror image when
  /// `teacher_mirror`). N > 0: what `eval --refine N` does with a face, on the training crop: one pass on
  /// the crop, then N more, each on the view of the crop its landmarks so far imply (their upright box,
  /// turned with the face, × view_scale), alternately mirrored and not, all passes averaged (six views for
  /// 5). Each pass costs one more teacher forward pass per crop.
  int teacher_refine = 0;
  /// How a deeper backbone grown from an `--init` start of fewer modules or blocks starts its new parts
  /// (HRNetImpl::start_growth): 0, as the identity (their last batch norms' scales at 0); s > 0, as copies of
  /// the block or module before them with those batch norms' scales and shifts × s (near the identity, and
  /// with trained features: from the identity the scales only hover around 0, their convolutions' gradients
  /// flipping sign with them).
  double grow_scale = 0;
  /// The detail and refine terms' parameters (DetailConfig) learn at this multiple of the schedule's rate: on
  /// a trained start the term is new and starts at zero while the rest only needs fine-tuning.
  double detail_lr_scale = 1;
  /// Trains only the detail term (a second stage on a trained start, as in cascaded shape regression): the
  /// rest of the network keeps the start's weights, its batch norms in inference mode.
  bool detail_only = false;
  /// Trains only the refine term (AlignerConfig::refine, a third stage on a start with the detail term):
  /// every other weight, the detail term's included, keeps the start's, batch norms in inference mode.
  bool refine_only = false;
  /// A wall-clock budget for this run, in minutes (0: none). After the second epoch the number of epochs is
  /// cut to what fits at its pace (after the first, when that alone spent the budget), and the
  /// learning-rate schedule is fitted to the new total.
  double time_budget_minutes = 0;
};

/// An exponential moving average of a module's floating-point parameters and buffers (other buffers,
/// such as batch-norm counters, follow the module). The module must keep its structure.
class WeightAverage {
 public:
  WeightAverage(torch::nn::Module& module, double decay);
  /// average = decay·average + (1-decay)·current
  void update(torch::nn::Module& module);
  /// Exchanges the averaged values with the module's (a second call restores them).
  void swap(torch::nn::Module& module);
  const std::vector<torch::Tensor>& values() const { return values_; }

 private:
  static std::vector<torch::Tensor> tensors(torch::nn::Module& module);
  double decay_;
  std::vector<torch::Tensor> values_;
};

/// A training configuration file (JSON): {"scheme", "annotation", "model": {...AlignerConfig...},
/// "train": {...TrainOptions...}}.
struct TrainConfig {
  std::string scheme = "300w68";      // the model's scheme
  std::string annotation = "300w68";  // the scheme of the .pts files
  AlignerConfig model;
  TrainOptions train;
};
TrainConfig load_train_config(const std::filesystem::path& file);

/// Trains into `out_dir` (last.pt, best.pt, optimizer.pt, state.json, log.csv, and ema.pt with weight
/// averaging); resumes from last.pt
/// when `resume` and it exists; otherwise starts from the weights of `init` when given (a model file of
/// the same configuration and scheme; its input size may differ: the network is convolutional up to a
/// global pool and its momenta scale with the input). `log` receives progress lines.
void train(const TrainConfig& config, const std::filesystem::path& data,
           const std::filesystem::path& train_list, const std::filesystem::path& val_list,
           const std::filesystem::path& out_dir, bool resume,
           const std::function<void(const std::string&)>& log, const std::filesystem::path& init = {});

/// Normalised crops [B, 3, L, L] resized to side `size` (bilinear; antialiased when reducing).
torch::Tensor resize_crops(const torch::Tensor& images, int size);

/// Distillation targets for crops `images` ([B, 3, L, L], normalised for the teacher) annotated with
/// `points` ([B, n, 2], crop pixels of side L): (1 - weight)·points + weight·the teacher's landmarks on
/// the crops resized to its input size (with `mirror`, averaged with its prediction on the mirrored
/// crops, mirrored back), in crop pixels of side L, less its calibration. The teacher must be in eval
/// mode. `image_to_crop` ([B, 2, 2], the batch's maps from the photos' pixels to the crops', side L)
/// carries a calibration's image-pixel part; a teacher calibrated with one needs it.
torch::Tensor teacher_targets(Aligner& teacher, const torch::Tensor& images, const torch::Tensor& points,
                              double weight, bool mirror, const torch::Tensor& image_to_crop = {});
/// The same for an ensemble: the teachers' landmarks averaged (the mean of each one's targets).
/// `refine` > 0: each teacher's landmarks are its average over 1 + refine views (TrainOptions::
/// teacher_refine; `mirror` is then not used).
torch::Tensor teacher_targets(std::vector<Aligner>& teachers, const torch::Tensor& images,
                              const torch::Tensor& points, double weight, bool mirror,
                              const torch::Tensor& image_to_crop = {}, int refine = 0);
/// Views of side `size` resampled from crops `images` ([B, C, H, W]): view pixel q ↦ crop pixel
/// view_to_crop[b]·(q, 1) ([B, 2, 3]; pixel centres at integer coordinates, as cv::warpAffine's), bilinear,
/// zero (the normalised mean colour) outside the crop.
torch::Tensor resample_crops(const torch::Tensor& images, const torch::Tensor& view_to_crop, int size);
/// A teacher's landmarks on crops ([B, n, 2], crop pixels of side L, calibrated) averaged over one pass on
/// the crop and `refine` passes on the views its landmarks so far imply (TrainOptions::teacher_refine).
torch::Tensor refined_teacher_points(Aligner& teacher, const torch::Tensor& images, int refine,
                                     const torch::Tensor& image_to_crop = {});
/// The files of a `teacher` setting: comma-separated, empty entries skipped.
std::vector<std::string> split_teachers(const std::string& list);

struct EvalResult {
  std::vector<std::string> names;
  std::vector<double> nme;        // per face
  std::vector<PartErrors> parts;  // per face NME_c
  NmeSummary summary;
  PartErrors mean_parts;
  DetJTable detj;                 // LDDMM head only (count 0 otherwise); averaged views: the first one's
  std::vector<Points> predicted;  // per face, record image pixels
  double seconds = 0;
  /// Sparse to dense, when the model's scheme is a subset of the annotation (a 300W-50 model on 300W-68
  /// faces): errors on all annotated points. An LDDMM model places the points it does not predict with
  /// its flow (each carried by the curve of its part, method.md), so NME_l exists; a coordinate model
  /// has only its own points, so only NME_c (nearest-neighbour distances per part) compares the two.
  struct Dense {
    std::string scheme;             // the annotation scheme
    std::vector<double> nme;        // per face, NME_l on all points (LDDMM models only)
    std::vector<PartErrors> parts;  // per face, NME_c against all points
    NmeSummary summary;             // of nme (LDDMM models only)
    PartErrors mean_parts;
  };
  std::optional<Dense> dense;
};

/// Runs the model on every face of `data`, no augmentation, cropping around `boxes` (one per face, in the
/// records' pixels) or, when null, around each face's landmark box; predictions are corrected by the
/// model's calibration. `refine`: that many more passes, each cropping around the upright box of the
/// landmarks so far (upright_box, as the tracker crops). `flip`: every pass averages its crop's prediction
/// with the mirrored crop's, mirrored back with the scheme's permutation, and the last pass gives the
/// landmarks. Without `flip` and with `alternate`, the passes alternate between the crop and its mirror image
/// (the second pass sees the mirrored crop), pass k's box scaled by view_scale(k), and the landmarks are the
/// mean of all passes: more views of the face for the price of the refinement; without `alternate`, every
/// pass sees the crop itself and the last one gives the landmarks.
EvalResult evaluate(Aligner& model, const FaceDataset& data, const std::vector<Box>* boxes = nullptr,
                    int batch_size = 32, bool flip = false, int refine = 0, bool alternate = true);

/// One model of an ensemble that `evaluate` averages: the model, the faces as it sees them (the same list,
/// each photo reduced to its own crop scale, FaceDataset's cache side) and, optionally, its first boxes
/// (one per face, in those records' pixels).
struct EvalMember {
  Aligner model;
  const FaceDataset* data = nullptr;
  const std::vector<Box>* boxes = nullptr;
};

/// An ensemble: every view of a face is each model's prediction on the same crop of the photo (each
/// at its own input size and calibration), averaged in the photo's pixels, and the next view's crop comes
/// from that mean, as the tracker's ensemble backend does (make_ensemble_backend). The models must predict
/// one scheme; the metrics, `predicted` and DetJ (the first model's flow) are in the first member's
/// records. One member is `evaluate` above. `on_pass(k, passes)` is called after each pass (for progress).
EvalResult evaluate(std::vector<EvalMember>& members, int batch_size = 32, bool flip = false, int refine = 0,
                    bool alternate = true, const std::function<void(int, int)>& on_pass = {});

}  // namespace lddmm
