// The main window's presentation and source pieces: the mirrored ("selfie") view, the overlay's size for
// projectors, the cameras by name with a resolution, the model and the device, the flow's export.
#include <QActionGroup>
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QMenu>
#include <QSettings>
#include <QStatusBar>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include "lddmm/net/device.hpp"
#include "lddmm/render/flow_export.hpp"
#include "lddmm/ui/main_window.hpp"

namespace lddmm::ui {
namespace {

constexpr std::array<double, 6> kOverlayScales = {0.75, 1, 1.5, 2, 3, 4};

// A camera's name as the kernel gives it ("" when it does not), and whether the node captures video (a
// webcam often has a second, metadata node with index 1).
std::pair<QString, bool> camera_info(const QString& node) {
  const QString sys = "/sys/class/video4linux/" + node + "/";
  QFile name(sys + "name"), index(sys + "index");
  QString n;
  if (name.open(QIODevice::ReadOnly)) n = QString::fromUtf8(name.readAll()).trimmed();
  bool capture = true;
  if (index.open(QIODevice::ReadOnly)) capture = QString::fromUtf8(index.readAll()).trimmed() == "0";
  return {n, capture};
}

}  // namespace

void MainWindow::buildPresentationActions() {
  QMenu* view = view_menu_;
  view->addSeparator();
  QAction* mirror = view->addAction("Mirrored View (Selfie)");
  mirror->setCheckable(true);
  mirror->setShortcut(QKeySequence("H"));
  connect(mirror, &QAction::triggered, this, [this](bool on) {
    if (player_.live()) QSettings().setValue("cameraMirror", on);
    redraw();
  });
  actions_["mirror_view"] = mirror;
  const auto step = [this](int by) {
    const auto* it = std::lower_bound(kOverlayScales.begin(), kOverlayScales.end(), overlay_scale_ - 1e-9);
    const auto i = std::clamp<std::ptrdiff_t>(it - kOverlayScales.begin() + by, 0, kOverlayScales.size() - 1);
    setOverlayScale(kOverlayScales[static_cast<size_t>(i)]);
  };
  menuAction(view, "overlayLarger", "&Larger Overlay (Projectors)", QKeySequence("Ctrl+="),
             [step] { step(1); });
  menuAction(view, "overlaySmaller", "Smaller Overlay", QKeySequence("Ctrl+-"), [step] { step(-1); });
  menuAction(view, "overlayDefault", "Default Overlay Size", QKeySequence("Ctrl+0"),
             [this] { setOverlayScale(1); });
}

void MainWindow::setOverlayScale(double scale) {
  overlay_scale_ = std::clamp(scale, kOverlayScales.front(), kOverlayScales.back());
  view_->setOverlayScale(overlay_scale_);
  QSettings().setValue("overlayScale", overlay_scale_);
  statusBar()->showMessage(QString("Overlay size %1×").arg(overlay_scale_), 2000);
}

// Cameras are shown mirrored (as a mirror would) unless the user said otherwise; files never.
void MainWindow::applyMirrorDefault() {
  QAction* a = action("mirror_view");
  const QSignalBlocker block(a);
  a->setChecked(player_.live() && QSettings().value("cameraMirror", true).toBool());
}

void MainWindow::buildRunMenu() {
  QMenu* run = view_menu_->addMenu("Run the Network &On");
  device_group_ = new QActionGroup(this);
  const bool gpu = cuda_devices() > 0;
  for (const auto& [label, spec] : {std::pair{"&Automatic (GPU When Present)", "auto"},
                                    std::pair{"&CPU", "cpu"}, std::pair{"&GPU (CUDA)", "cuda"}}) {
    QAction* a = run->addAction(label);
    a->setCheckable(true);
    a->setData(QString(spec));
    a->setChecked(spec == player_.settings().device);
    if (QString(spec) == "cuda" && !gpu) {
      a->setEnabled(false);
      a->setText("GPU (CUDA): LibTorch Sees None Here");
    }
    device_group_->addAction(a);
    connect(a, &QAction::triggered, this, [this, spec] {
      if (setDevice(spec)) QSettings().setValue("device", QString(spec));
    });
  }
}

bool MainWindow::setDevice(const QString& spec) {
  const QString old = device_;
  device_ = spec;
  applySettings();
  if (player_.settings().device != spec.toStdString()) device_ = old;
  for (QAction* a : device_group_->actions())
    if (a->data().toString() == device_.section(':', 0, 0)) a->setChecked(true);
  return device_ == spec;
}

void MainWindow::refreshCameras() {
  camera_menu_->clear();
  const QStringList found = QDir("/dev").entryList({"video*"}, QDir::System, QDir::Name);
  int shown = 0;
  for (const QString& node : found) {
    const auto [name, capture] = camera_info(node);
    if (!capture) continue;
    const QString path = "/dev/" + node;
    QAction* a = camera_menu_->addAction(name.isEmpty() ? path : name + "  (" + path + ")");
    connect(a, &QAction::triggered, this, [this, path] { openSource(path); });
    ++shown;
  }
  if (shown == 0) camera_menu_->addAction("No camera found")->setEnabled(false);
  camera_menu_->addSeparator();
  addCameraResolutions(camera_menu_->addMenu("&Resolution"));
}

void MainWindow::addCameraResolutions(QMenu* menu) {
  auto* group = new QActionGroup(menu);
  const QSize asked(player_.settings().camera_width, player_.settings().camera_height);
  for (const QSize size : {QSize(0, 0), QSize(640, 480), QSize(1280, 720), QSize(1920, 1080)}) {
    QAction* a = menu->addAction(size.isEmpty() ? QString("The Camera's Own")
                                                : QString("%1 × %2").arg(size.width()).arg(size.height()));
    a->setCheckable(true);
    a->setChecked(size == asked);
    group->addAction(a);
    connect(a, &QAction::triggered, this, [this, size] {
      camera_size_ = size;
      QSettings().setValue("cameraSize", size);
      applySettings();
    });
  }
}

bool MainWindow::openModel(const QString& file) {
  const QString old = model_file_;
  model_file_ = file;
  if (QAction* a = action("accurate"); a->isChecked()) {
    const QSignalBlocker block(a);
    a->setChecked(false);
  }
  applySettings();
  if (player_.settings().model != file.toStdString()) {
    model_file_ = old;
    return false;
  }
  statusBar()->showMessage("Model: " + player_.modelName(), 5000);
  return true;
}

bool MainWindow::exportFlow(const QString& file) {
  const auto& cur = player_.current();
  if (!teaching_ || !cur || player_.modelScheme() == nullptr) {
    showError("no flow to export: freeze a frame with a face first (Teaching > Freeze, F)");
    return false;
  }
  QApplication::setOverrideCursor(Qt::WaitCursor);
  try {
    export_flow(file.toStdString(), cur->image, *player_.modelScheme(), *teaching_, scene_options_);
  } catch (const std::exception& e) {
    QApplication::restoreOverrideCursor();
    showError(e.what());
    return false;
  }
  QApplication::restoreOverrideCursor();
  statusBar()->showMessage("Exported the flow to " + file, 5000);
  return true;
}

}  // namespace lddmm::ui
