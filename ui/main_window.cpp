#include "lddmm/ui/main_window.hpp"

#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressDialog>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>
#include <QUrl>

#include <opencv2/core.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "lddmm/io/resources.hpp"
#include "lddmm/render/render.hpp"

namespace lddmm::ui {
namespace {

struct SchemeChoice {
  const char* label;
  const char* spec;  // "" = the model's own; "@K" = the model's scheme made dense
};
const SchemeChoice kSchemes[] = {
    {"Model's points", ""}, {"Dense ×2 (from the model)", "@2"}, {"Dense ×3 (from the model)", "@3"},
    {"WFLW 98", "wflw98"},  {"HELEN 194", "helen194"},           {"COFW 29", "cofw29"}};

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("LDDMM-Face tracker");
  setAcceptDrops(true);
  view_ = new OverlayView(this);
  view_->setPlaceholder("Open a video, an image, a folder or a camera (File menu), or drop a file here.");
  setCentralWidget(view_);
  buildMenus();
  buildToolbar();
  buildTeachingDock();
  fps_label_ = new QLabel("– fps");
  latency_label_ = new QLabel("– ms");
  device_label_ = new QLabel("-");
  model_label_ = new QLabel("-");
  source_label_ = new QLabel("no source");
  for (QLabel* l : {source_label_, fps_label_, latency_label_, device_label_, model_label_})
    statusBar()->addPermanentWidget(l);
  connect(&player_, &Player::frameReady, this, &MainWindow::onFrame);
  connect(&player_, &Player::stateChanged, this, &MainWindow::onState);
  connect(&player_, &Player::failed, this, &MainWindow::showError);
  connect(&player_, &Player::finished, this, [this] { statusBar()->showMessage("End of the source", 4000); });
  connect(view_, &OverlayView::imageClicked, this, [this](QPointF p) {
    if (!teaching_) return;
    if (action("mirror_view")->isChecked()) p.setX(shown_.cols - 1 - p.x());  // back to the frame's pixels
    Points q(teaching_points_.rows() + 1, 2);
    q.topRows(teaching_points_.rows()) = teaching_points_;
    q.row(q.rows() - 1) << p.x(), p.y();
    teaching_points_ = q;
    recomputeTeaching();
  });
  loadSettings();
  applySettings();
}

MainWindow::~MainWindow() { stopRecording(); }

QAction* MainWindow::action(const QString& name) const {
  const auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : it->second;
}

void MainWindow::buildMenus() {
  buildFileMenu();
  buildViewMenu();
  buildPresentationActions();
  buildEngineMenu();
  buildRunMenu();
  buildPlaybackMenus();
  buildHelpMenu();
  refreshRecent();
}

void MainWindow::buildFileMenu() {
  QMenu* file = menuBar()->addMenu("&File");
  menuAction(file, "open", "&Open Video or Image…", QKeySequence::Open, [this] {
    QSettings s;
    const QString f = QFileDialog::getOpenFileName(
        this, "Open a video or an image", s.value("lastDir").toString(),
        "Videos and images (*.mp4 *.avi *.mkv *.mov *.mpg *.webm *.jpg *.jpeg *.png *.bmp);;All files (*)");
    if (!f.isEmpty()) openSource(f);
  });
  menuAction(file, "openFolder", "Open &Folder of Images…", QKeySequence("Ctrl+Shift+O"), [this] {
    QSettings s;
    const QString d =
        QFileDialog::getExistingDirectory(this, "Open a folder of images", s.value("lastDir").toString());
    if (!d.isEmpty()) openSource(d);
  });
  camera_menu_ = file->addMenu("Open &Camera");
  connect(camera_menu_, &QMenu::aboutToShow, this, &MainWindow::refreshCameras);
  recent_menu_ = file->addMenu("&Recent");
  file->addSeparator();
  menuAction(file, "openModel", "Open &Model…", QKeySequence("Ctrl+Shift+M"), [this] {
    const QString f =
        QFileDialog::getOpenFileName(this, "Open a model", QFileInfo(model_file_).absolutePath(),
                                     "LDDMM-Face models (*.pt);;All files (*)");
    if (!f.isEmpty() && openModel(f)) QSettings().setValue("model", f);  // the menu's choice is remembered
  });
  menuAction(file, "shippedModel", "Use the S&hipped Model", QKeySequence(), [this] {
    if (openModel(QString())) QSettings().remove("model");
  });
  file->addSeparator();
  menuAction(file, "export", "&Export Landmarks…", QKeySequence("Ctrl+E"), [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Export the landmarks tracked so far",
                                                   "landmarks.csv", "CSV (*.csv);;JSON (*.json)");
    if (!f.isEmpty()) exportLandmarks(f);
  });
  menuAction(file, "screenshot", "Save &Screenshot…", QKeySequence::Save, [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Save the view", "screenshot.png", "PNG (*.png)");
    if (!f.isEmpty()) saveScreenshot(f);
  });
  QAction* rec = menuAction(file, "record", "&Record Overlay Video", QKeySequence("Ctrl+R"), [this](bool on) {
    if (!on) {
      stopRecording();
      return;
    }
    const QString f =
        QFileDialog::getSaveFileName(this, "Record the overlay to", "overlay.mp4", "Video (*.mp4 *.avi)");
    if (f.isEmpty() || !startRecording(f)) action("record")->setChecked(false);
  });
  rec->setCheckable(true);
  menuAction(file, "annotate", "&Annotate a Whole Video…", QKeySequence("Ctrl+Shift+A"),
             [this] { annotateVideo(); });
  file->addSeparator();
  menuAction(file, "quit", "&Quit", QKeySequence("Ctrl+Q"), [this] { close(); });
}

void MainWindow::buildViewMenu() {
  QMenu* view = menuBar()->addMenu("&View");
  view_menu_ = view;
  auto toggle = [&](const QString& key, const QString& text, const QString& shortcut,
                    bool SceneOptions::*field) {
    QAction* a = view->addAction(text);
    a->setCheckable(true);
    a->setChecked(scene_options_.*field);
    a->setShortcut(QKeySequence(shortcut));
    connect(a, &QAction::toggled, this, [this, field](bool on) {
      scene_options_.*field = on;
      redraw();
    });
    actions_[key] = a;
  };
  toggle("landmarks", "&Landmarks", "L", &SceneOptions::landmarks);
  toggle("indices", "Landmark &Indices", "I", &SceneOptions::indices);
  toggle("curves", "Deformed &Curves", "C", &SceneOptions::curves);
  toggle("template", "&Template (Mean Face)", "T", &SceneOptions::template_curves);
  toggle("momenta", "&Momenta Arrows", "M", &SceneOptions::momenta);
  toggle("trajectories", "Tra&jectories", "J", &SceneOptions::trajectories);
  toggle("grid", "Deformation &Grid", "G", &SceneOptions::grid);
  connect(action("grid"), &QAction::toggled, this, [this](bool on) {
    applySettings();  // hidden: not computed
    if (on && !teaching_) player_.refresh();
  });
  QAction* per_curve = view->addAction("Grid by the Paper's Per-Curve Flows (Tears Between Curves)");
  per_curve->setCheckable(true);
  per_curve->setShortcut(QKeySequence("Shift+G"));
  connect(per_curve, &QAction::toggled, this, [this] {
    applySettings();
    if (teaching_) recomputeTeaching();
  });
  actions_["per_curve_grid"] = per_curve;
  toggle("boxes", "Face &Boxes and Ids", "B", &SceneOptions::boxes);
  toggle("pose", "Head &Pose Axes", "P", &SceneOptions::pose_axes);
  QAction* full = menuAction(view, "fullscreen", "&Full Screen", QKeySequence(Qt::Key_F11),
                             [this](bool on) { on ? showFullScreen() : showNormal(); });
  full->setCheckable(true);
}

void MainWindow::buildEngineMenu() {
  QMenu* view = view_menu_;
  view->addSeparator();
  QAction* smooth = view->addAction("&Smoothing (One-Euro)");
  smooth->setCheckable(true);
  smooth->setChecked(true);
  smooth->setShortcut(QKeySequence("S"));
  connect(smooth, &QAction::toggled, this, [this] { applySettings(); });
  actions_["smoothing"] = smooth;
  QAction* mirror = view->addAction("Test-time Mi&rroring (more accurate, slower)");
  mirror->setCheckable(true);
  mirror->setShortcut(QKeySequence("R"));
  connect(mirror, &QAction::toggled, this, [this] { applySettings(); });
  actions_["mirror"] = mirror;
  QAction* accurate = view->addAction("&Accurate: Both Shipped Models (about 2x slower)");
  accurate->setCheckable(true);
  accurate->setShortcut(QKeySequence("A"));
  connect(accurate, &QAction::toggled, this, [this] { applySettings(); });
  actions_["accurate"] = accurate;
  QMenu* smallest = view->addMenu("Smallest &Face Found");
  auto* sizes = new QActionGroup(this);
  for (const int px : {24, 32, 48, 64, 96, 0}) {
    QAction* a =
        smallest->addAction(px > 0 ? QString("%1 px").arg(px) : QString("A Quarter of the Frame (Fastest)"));
    a->setCheckable(true);
    a->setChecked(px == player_.settings().min_face);
    a->setData(px);
    sizes->addAction(a);
    connect(a, &QAction::triggered, this, [this] { applySettings(); });
  }
  min_face_group_ = sizes;
}

void MainWindow::buildPlaybackMenus() {
  QMenu* play = menuBar()->addMenu("&Playback");
  menuAction(play, "play", "&Play / Pause", QKeySequence(Qt::Key_Space),
             [this] { player_.playing() ? player_.pause() : player_.play(); });
  menuAction(play, "step", "&Step One Frame", QKeySequence(Qt::Key_Right), [this] { player_.step(); });
  menuAction(play, "restart", "&Restart", QKeySequence(Qt::Key_Home), [this] { player_.seek(0); });

  QMenu* teach = menuBar()->addMenu("&Teaching");
  QAction* t = menuAction(teach, "teach", "&Freeze and Show the Flow", QKeySequence("F"),
                          [this](bool on) { setTeaching(on); });
  t->setCheckable(true);
  menuAction(teach, "exportFlow", "&Export the Flow t = 0 → 1…", QKeySequence("Ctrl+Shift+E"), [this] {
    if (!teaching_) setTeaching(true);
    const QString f = QFileDialog::getSaveFileName(
        this, "Export the flow", "flow.mp4",
        "MP4 video (*.mp4);;WebM video (*.webm);;Strip of t = 0, 1/4, 1/2, 3/4, 1 (*.png)");
    if (!f.isEmpty()) exportFlow(f);
  });
  menuAction(teach, "clearPoints", "&Clear Added Points", QKeySequence("Ctrl+Backspace"), [this] {
    teaching_points_.resize(0, 2);
    recomputeTeaching();
  });
}

void MainWindow::buildHelpMenu() {
  QMenu* help = menuBar()->addMenu("&Help");
  menuAction(help, "shortcuts", "&Keyboard Shortcuts", QKeySequence(Qt::Key_F1),
             [this] { QMessageBox::information(this, "Keyboard shortcuts", shortcutsText()); });
  menuAction(help, "about", "&About", QKeySequence(),
             [this] { QMessageBox::about(this, "About LDDMM-Face tracker", aboutText()); });
}

QString MainWindow::shortcutsText() const {
  std::vector<std::pair<QString, QString>> rows;
  for (const auto& [key, a] : actions_)
    if (!a->shortcut().isEmpty())
      rows.emplace_back(a->shortcut().toString(QKeySequence::NativeText), QString(a->text()).remove('&'));
  std::sort(rows.begin(), rows.end());
  QString text;
  for (const auto& [keys, what] : rows) text += keys + "\t" + what + "\n";
  return text + "Click\tTeaching view: add a point near a curve and watch it flow\n";
}

// A link to the user's guide on this machine (installed or in the source tree), else where it would be.
QString MainWindow::docsLink() {
  const std::filesystem::path guide = user_guide();
  if (guide.empty()) return "README.md and docs/ of the source, or /usr/share/doc/lddmm-face";
  const QString url = QUrl::fromLocalFile(QString::fromStdString(guide.string())).toString();
  return QString("<a href=\"%1\">the user's guide</a> (%2, with docs/ beside it)")
      .arg(url, QString::fromStdString(guide.string()).toHtmlEscaped());
}

QString MainWindow::aboutText() const {
  return QString(
             "<b>LDDMM-Face tracker %1</b><p>Facial landmarks by LDDMM-Face: a CNN predicts momenta, and a "
             "diffeomorphic flow deforms the mean face's curves onto the face; any scheme's points are "
             "carried by the flow.</p><p>Model: %2</p><p>Licence: MIT. The shipped models were trained on "
             "the 300-W data (AFW, HELEN, LFPW with i-BUG's annotations), for research use under their "
             "terms; the head pose uses the Basel Face Model's mean shape (research terms).</p>"
             "<p>Documentation: %3</p>")
      .arg(LDDMM_VERSION, player_.modelName().toHtmlEscaped(), docsLink());
}

void MainWindow::buildToolbar() {
  QToolBar* bar = addToolBar("Controls");
  bar->setObjectName("controls");
  bar->addAction(action("play"));
  bar->addAction(action("step"));
  seek_ = new QSlider(Qt::Horizontal);
  seek_->setMinimumWidth(200);
  seek_->setEnabled(false);
  seek_->setToolTip("Seek");
  connect(seek_, &QSlider::sliderReleased, this, [this] { player_.seek(seek_->value()); });
  bar->addWidget(seek_);
  bar->addSeparator();
  bar->addWidget(new QLabel(" Scheme "));
  scheme_box_ = new QComboBox;
  for (const SchemeChoice& c : kSchemes) scheme_box_->addItem(c.label, QString(c.spec));
  scheme_box_->setToolTip("The points to show: extra points (red) are placed by the face's diffeomorphism");
  connect(scheme_box_, &QComboBox::currentIndexChanged, this, [this] { applySettings(); });
  bar->addWidget(scheme_box_);
  bar->addWidget(new QLabel(" Grid "));
  grid_slider_ = new QSlider(Qt::Horizontal);
  grid_slider_->setRange(4, 32);
  grid_slider_->setValue(16);
  grid_slider_->setMaximumWidth(120);
  grid_slider_->setToolTip("Grid density (cells per side); colour: det J (red expansion, blue compression)");
  connect(grid_slider_, &QSlider::sliderReleased, this, [this] { applySettings(); });
  bar->addWidget(grid_slider_);
  bar->addWidget(new QLabel(" Arrows "));
  arrow_slider_ = new QSlider(Qt::Horizontal);
  arrow_slider_->setRange(1, 40);  // tenths: 0.1× to 4×
  arrow_slider_->setValue(10);
  arrow_slider_->setMaximumWidth(120);
  connect(arrow_slider_, &QSlider::valueChanged, this, [this](int v) {
    scene_options_.momentum_scale = v / 10.0;
    arrow_slider_->setToolTip(QString("Momentum arrows: length = %1 × |α| pixels").arg(v / 10.0));
    redraw();
  });
  bar->addWidget(arrow_slider_);
}

void MainWindow::buildTeachingDock() {
  teach_dock_ = new QDockWidget("Teaching: the flow from t = 0 to 1", this);
  teach_dock_->setObjectName("teaching");
  auto* w = new QWidget;
  auto* form = new QFormLayout(w);
  teach_t_ = new QSlider(Qt::Horizontal);
  teach_t_->setRange(0, 100);
  teach_t_->setValue(100);
  connect(teach_t_, &QSlider::valueChanged, this, [this] { redraw(); });
  form->addRow("t", teach_t_);
  teach_steps_ = new QSpinBox;
  teach_steps_->setRange(1, 40);
  teach_steps_->setValue(8);
  connect(teach_steps_, &QSpinBox::valueChanged, this, [this] { recomputeTeaching(); });
  form->addRow("Integrator steps (RK4)", teach_steps_);
  teach_kernel_ = new QDoubleSpinBox;
  teach_kernel_->setRange(0.25, 4.0);
  teach_kernel_->setSingleStep(0.25);
  teach_kernel_->setValue(1.0);
  connect(teach_kernel_, &QDoubleSpinBox::valueChanged, this, [this] { recomputeTeaching(); });
  form->addRow("Kernel scale (× σ_V)", teach_kernel_);
  auto* hint = new QLabel("Click near a curve to add a point and watch it flow.");
  hint->setWordWrap(true);
  form->addRow(hint);
  teach_dock_->setWidget(w);
  addDockWidget(Qt::RightDockWidgetArea, teach_dock_);
  teach_dock_->hide();
}

void MainWindow::loadSettings() {
  QSettings s;
  restoreGeometry(s.value("geometry").toByteArray());
  restoreState(s.value("windowState").toByteArray());
  recent_ = s.value("recent").toStringList();
  for (const auto& [key, a] : actions_)
    if (a->isCheckable() && key != "record" && key != "teach" && key != "mirror_view" &&
        s.contains("view/" + key))
      a->setChecked(s.value("view/" + key).toBool());
  const int scheme = s.value("scheme", 0).toInt();
  if (scheme >= 0 && scheme < scheme_box_->count()) {
    const QSignalBlocker block(scheme_box_);
    scheme_box_->setCurrentIndex(scheme);
  }
  grid_slider_->setValue(s.value("gridCells", 16).toInt());
  model_file_ = s.value("model").toString();
  camera_size_ = s.value("cameraSize").toSize();
  setOverlayScale(s.value("overlayScale", 1.0).toDouble());
  const QString device = s.value("device", "auto").toString();
  device_ = "auto";  // a remembered GPU that is not here: automatic
  for (QAction* a : device_group_->actions())
    if (a->data().toString() == device && a->isEnabled()) {
      a->setChecked(true);
      device_ = device;
    }
  arrow_slider_->setValue(s.value("arrowScale", 10).toInt());
  if (teach_dock_) teach_dock_->hide();
  refreshRecent();
}

void MainWindow::saveSettings() const {
  QSettings s;
  s.setValue("geometry", saveGeometry());
  s.setValue("windowState", saveState());
  s.setValue("recent", recent_);
  for (const auto& [key, a] : actions_)
    if (a->isCheckable() && key != "record" && key != "teach") s.setValue("view/" + key, a->isChecked());
  s.setValue("scheme", scheme_box_->currentIndex());
  s.setValue("gridCells", grid_slider_->value());
  s.setValue("arrowScale", arrow_slider_->value());
}

void MainWindow::closeEvent(QCloseEvent* event) {
  saveSettings();
  stopRecording();
  player_.close();
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (!urls.isEmpty() && urls.front().isLocalFile()) openSource(urls.front().toLocalFile());
}

void MainWindow::addRecent(const QString& spec) {
  recent_.removeAll(spec);
  recent_.prepend(spec);
  while (recent_.size() > 10) recent_.removeLast();
  QSettings().setValue("recent", recent_);
  refreshRecent();
}

void MainWindow::refreshRecent() {
  if (!recent_menu_) return;
  recent_menu_->clear();
  for (const QString& r : recent_) {
    QAction* a = recent_menu_->addAction(r);
    connect(a, &QAction::triggered, this, [this, r] { openSource(r); });
  }
  recent_menu_->setEnabled(!recent_.isEmpty());
}

bool MainWindow::openSource(const QString& spec) {
  setTeaching(false);
  QString error;
  if (!player_.open(spec, &error)) {
    showError(error);
    view_->setFrame(QImage(), Scene());
    view_->setPlaceholder(error);
    return false;
  }
  const QFileInfo info(spec);
  if (info.exists()) QSettings().setValue("lastDir", info.absolutePath());
  addRecent(spec);
  applyMirrorDefault();
  frames_shown_ = 0;
  fps_avg_ = 0;
  statusBar()->showMessage("Opened " + player_.sourceName(), 3000);
  onState();
  return true;
}

void MainWindow::showError(const QString& message) {
  statusBar()->showMessage("Error: " + message);
  source_label_->setText("error");
}

QString MainWindow::statusText() const { return statusBar()->currentMessage(); }

void MainWindow::applySettings() {
  PlayerSettings s = player_.settings();
  QString spec = scheme_box_->currentData().toString();
  if (spec.startsWith('@'))
    spec = QString::fromStdString(player_.modelScheme() ? player_.modelScheme()->id : "300w68") + spec;
  s.scheme = spec.toStdString();
  s.grid_cells = grid_slider_->value();
  s.grid = scene_options_.grid;
  s.per_curve_grid = action("per_curve_grid")->isChecked();
  s.smoothing = action("smoothing")->isChecked();
  s.mirror = action("mirror")->isChecked();
  s.accurate = action("accurate")->isChecked();
  if (QAction* a = min_face_group_->checkedAction()) s.min_face = a->data().toInt();
  s.device = device_.toStdString();
  s.model = model_file_.toStdString();
  s.camera_width = camera_size_.width();
  s.camera_height = camera_size_.height();
  QString error;
  if (!player_.apply(s, &error)) showError(error);
  onState();
}

void MainWindow::onState() {
  action("play")->setText(player_.playing() ? "&Pause" : "&Play");
  device_label_->setText(player_.deviceName());
  model_label_->setText(player_.modelName());
  if (player_.isOpen()) source_label_->setText(QFileInfo(player_.sourceName()).fileName());
  const bool seekable = player_.isOpen() && !player_.live() && player_.frameCount() > 1;
  seek_->setEnabled(seekable);
  if (seekable) seek_->setRange(0, static_cast<int>(player_.frameCount() - 1));
}

void MainWindow::onFrame() {
  const auto& cur = player_.current();
  if (!cur) return;
  const auto now = std::chrono::steady_clock::now();
  if (frames_shown_ > 0) {
    const double dt = std::chrono::duration<double>(now - last_frame_).count();
    if (dt > 0) fps_avg_ = fps_avg_ == 0 ? 1 / dt : 0.9 * fps_avg_ + 0.1 / dt;
  }
  last_frame_ = now;
  ++frames_shown_;
  fps_label_->setText(QString::asprintf("%.1f fps", fps_avg_));
  latency_label_->setText(QString::asprintf("%.0f ms", cur->latency_ms));
  if (!seek_->isSliderDown()) {
    const QSignalBlocker block(seek_);
    seek_->setValue(static_cast<int>(cur->result.index));
  }
  redraw();
  if (recorder_.isOpened()) {
    cv::Mat canvas = shown_.clone();
    lddmm::paint_scene(canvas, view_->scene(), std::max(1.0, canvas.cols / 640.0) * overlay_scale_);
    recorder_.write(canvas);
  }
}

void MainWindow::redraw() {
  const auto& cur = player_.current();
  if (!cur || !player_.modelScheme()) return;
  Scene scene;
  if (teaching_)
    scene = teaching_scene(*player_.modelScheme(), *teaching_, teach_t_->value() / 100.0, scene_options_);
  else {
    SceneOptions o = scene_options_;
    o.frame_width = cur->image.cols;
    o.frame_height = cur->image.rows;
    scene = build_scene(cur->result, *player_.modelScheme(), *player_.outputScheme(), o);
  }
  if (action("mirror_view")->isChecked()) {
    shown_ = cv::Mat();  // a new buffer: the frame itself is not flipped
    cv::flip(cur->image, shown_, 1);
    scene = mapped_scene(scene, mirror_map(cur->image.cols));
  } else {
    shown_ = cur->image;
  }
  if (!teaching_ && cur->result.faces.empty()) scene.labels.push_back(noFaceHint(cur->image.cols));
  view_->setFrame(to_qimage(shown_), std::move(scene));
  view_->setMomentumLegend(scene_options_.momenta, scene_options_.momentum_scale);
}

// On the video while no face is found: how small a face is looked for, and where to change it.
Scene::Label MainWindow::noFaceHint(int frame_width) const {
  const int px = player_.settings().min_face;
  const std::string text =
      px > 0 ? "no face of at least " + std::to_string(px) + " px found (View > Smallest Face Found)"
             : "no large face found (View > Smallest Face Found)";
  const double size = std::max(1.0, frame_width / 640.0);
  return {Eigen::RowVector2d(12 * size, 28 * size), text, Rgb{255, 210, 0}, 1.2 * size};
}

void MainWindow::setTeaching(bool on) {
  if (QAction* a = action("teach"); a && a->isChecked() != on) {
    const QSignalBlocker block(a);
    a->setChecked(on);
  }
  if (!on) {
    teaching_.reset();
    teach_dock_->hide();
    redraw();
    return;
  }
  player_.pause();
  teach_dock_->show();
  recomputeTeaching();
}

void MainWindow::setTeachingTime(double t) { teach_t_->setValue(static_cast<int>(std::lround(t * 100))); }

// The scheme box's scheme, when it is not the model's: its points flow in the teaching view too.
const Correspondence* MainWindow::teachingCarry() {
  const Scheme* model = player_.modelScheme();
  const Scheme* out = player_.outputScheme();
  if (model == nullptr || out == nullptr || out->id == model->id) return nullptr;
  if (!teach_carry_ || teach_carry_id_ != out->id) {
    teach_carry_ = correspond(*model, *out);
    teach_carry_id_ = out->id;
  }
  return &*teach_carry_;
}

void MainWindow::recomputeTeaching() {
  if (!action("teach")->isChecked()) return;
  const auto& cur = player_.current();
  teaching_.reset();
  if (cur && player_.modelScheme()) {
    for (const FaceResult& f : cur->result.faces) {
      if (!f.flow) continue;
      TeachingOptions o;
      o.steps = teach_steps_->value();
      o.kernel_scale = teach_kernel_->value();
      o.grid_cells = grid_slider_->value();
      o.per_curve_grid = action("per_curve_grid")->isChecked();
      teaching_ = teach_flow(*player_.modelScheme(), f.flow->template_points, f.flow->momenta,
                             teaching_points_, o, teachingCarry());
      break;
    }
  }
  if (!teaching_) statusBar()->showMessage("Teaching: no face with a flow in this frame", 4000);
  redraw();
}

bool MainWindow::exportLandmarks(const QString& file) {
  try {
    const bool json = file.endsWith(".json", Qt::CaseInsensitive);
    const Scheme* s = player_.outputScheme();
    auto w = make_landmark_writer(json ? LandmarkFormat::Json : LandmarkFormat::Csv, file.toStdString(),
                                  s ? s->id : "", s ? s->num_points : 0, player_.sourceName().toStdString());
    const auto& rows = player_.history();
    for (size_t i = 0; i < rows.size(); ++i) {
      w->write(rows[i]);
      if (i + 1 == rows.size() || rows[i + 1].frame != rows[i].frame)
        w->end_frame(rows[i].frame, rows[i].time);
    }
    w->finish();
    statusBar()->showMessage(QString("Exported %1 landmark rows to %2").arg(rows.size()).arg(file), 5000);
    return true;
  } catch (const std::exception& e) {
    showError(e.what());
    return false;
  }
}

bool MainWindow::saveScreenshot(const QString& file) {
  const bool ok = grab().save(file);
  if (!ok) showError(file + ": cannot write the image");
  return ok;
}

bool MainWindow::startRecording(const QString& file) {
  const auto& cur = player_.current();
  if (!cur) {
    showError("nothing to record yet: open a source first");
    return false;
  }
  const int fourcc = file.endsWith(".avi", Qt::CaseInsensitive) ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G')
                                                                : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  if (!recorder_.open(file.toStdString(), cv::CAP_FFMPEG, fourcc, player_.fps(), cur->image.size())) {
    showError(file + ": cannot write the video");
    return false;
  }
  recording_file_ = file;
  statusBar()->showMessage("Recording the overlay to " + file);
  return true;
}

void MainWindow::stopRecording() {
  if (!recorder_.isOpened()) return;
  recorder_.release();
  statusBar()->showMessage("Saved the overlay video " + recording_file_, 5000);
}

void MainWindow::annotateVideo() {
  QSettings settings;
  const QString in =
      QFileDialog::getOpenFileName(this, "Video to annotate", settings.value("lastDir").toString(),
                                   "Videos (*.mp4 *.avi *.mkv *.mov *.mpg *.webm);;All files (*)");
  if (in.isEmpty()) return;
  const QString out = QFileDialog::getSaveFileName(
      this, "Landmarks file", QFileInfo(in).completeBaseName() + ".csv", "CSV (*.csv);;JSON (*.json)");
  if (out.isEmpty()) return;
  std::atomic<int64_t> done{0}, total{-1};
  std::atomic<bool> cancel{false}, over{false};
  std::string error;
  const PlayerSettings ps = player_.settings();
  std::thread worker([&] {
    try {
      LddmmBackendOptions bo;
      bo.output_scheme = ps.scheme;
      bo.grid_cells = 0;
      bo.device = ps.device;
      bo.flip = ps.mirror;
      TrackerOptions to;
      to.smoothing.enabled = ps.smoothing;
      to.min_face = ps.min_face;
      Tracker tracker(make_model_backend(model_files(ps), bo), BoxMap::installed(), to);
      auto source = open_source(in.toStdString());
      total = source->frame_count();
      const Scheme& s = tracker.backend().output_scheme();
      auto w =
          make_landmark_writer(out.endsWith(".json") ? LandmarkFormat::Json : LandmarkFormat::Csv,
                               out.toStdString(), s.id, s.num_points, in.toStdString(), source->images());
      Engine engine(std::move(source), tracker);
      EngineOutput o;
      while (!cancel && engine.next(o)) {
        for (const LandmarkRow& r : rows_of(o.result, o.frame.name)) w->write(r);
        w->end_frame(o.result.index, o.result.time, o.frame.name);
        ++done;
      }
      w->finish();
    } catch (const std::exception& e) {
      error = e.what();
    }
    over = true;
  });
  QProgressDialog progress("Annotating " + QFileInfo(in).fileName() + "…", "Cancel", 0, 100, this);
  progress.setWindowModality(Qt::WindowModal);
  progress.setMinimumDuration(0);
  while (!over) {
    const int64_t t = total;
    progress.setMaximum(t > 0 ? static_cast<int>(t) : 0);
    progress.setValue(static_cast<int>(done));
    QApplication::processEvents(QEventLoop::AllEvents, 50);
    if (progress.wasCanceled()) cancel = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  worker.join();
  progress.close();
  if (!error.empty())
    showError(QString::fromStdString(error) + " (frames so far are saved)");
  else
    statusBar()->showMessage(
        QString("%1 frames annotated%2 → %3").arg(done.load()).arg(cancel ? " (cancelled)" : "").arg(out),
        8000);
}

}  // namespace lddmm::ui
