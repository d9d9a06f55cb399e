// The main window: sources (file, folder, camera, drag and drop, recent files), playback (play, pause,
// step, seek), overlay toggles, scheme selector, teaching view, export (landmarks, screenshot, overlay
// recording, whole-video annotation), a status bar, persisted settings and keyboard shortcuts.
#pragma once

#include <QAction>
#include <QLabel>
#include <QMainWindow>
#include <QMenu>
#include <QPointer>

#include <opencv2/videoio.hpp>

#include <map>
#include <optional>

#include "lddmm/render/scene.hpp"
#include "lddmm/render/teaching.hpp"
#include "lddmm/ui/overlay_view.hpp"
#include "lddmm/ui/player.hpp"

class QComboBox;
class QSlider;
class QSpinBox;
class QActionGroup;
class QDoubleSpinBox;
class QDockWidget;
class QMenu;

namespace lddmm::ui {

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Opens a source; errors go to the status bar and the view (never a dialog loop).
  bool openSource(const QString& spec);
  bool exportLandmarks(const QString& file);
  bool saveScreenshot(const QString& file);
  bool startRecording(const QString& file);
  void stopRecording();
  void setTeaching(bool on);
  void setTeachingTime(double t);
  /// The teaching view's flow t = 0 → 1 as a video (.mp4, .webm, .avi) or a strip of 5 panels (.png).
  bool exportFlow(const QString& file);
  /// Runs the network from this model file (empty: the shipped model); errors go to the status bar.
  bool openModel(const QString& file);
  /// Runs the network on "auto", "cpu", "cuda" or "cuda:N"; errors go to the status bar.
  bool setDevice(const QString& spec);
  /// Line width, point size and font of the overlay, × the default (projectors: 2 or 3).
  void setOverlayScale(double scale);
  double overlayScale() const { return overlay_scale_; }
  /// The frame as shown: mirrored in the mirrored ("selfie") view.
  const cv::Mat& shownFrame() const { return shown_; }

  Player& player() { return player_; }
  OverlayView& view() { return *view_; }
  const SceneOptions& sceneOptions() const { return scene_options_; }
  QAction* action(const QString& name) const;
  QComboBox* schemeBox() const { return scheme_box_; }
  QString statusText() const;
  /// Every action with a key, "keys<TAB>what" a line (Help ▸ Keyboard Shortcuts).
  QString shortcutsText() const;
  /// Version, model, licences and data terms (Help ▸ About).
  QString aboutText() const;
  int framesShown() const { return frames_shown_; }
  double displayRate() const { return fps_avg_; }

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildMenus();
  void buildFileMenu();
  void buildViewMenu();
  void buildEngineMenu();
  void buildPlaybackMenus();
  void buildHelpMenu();
  void buildPresentationActions();
  void buildRunMenu();
  void addCameraResolutions(QMenu* menu);
  void applyMirrorDefault();
  template <typename Slot>
  QAction* menuAction(QMenu* menu, const QString& key, const QString& text, const QKeySequence& shortcut,
                      Slot slot);
  void buildToolbar();
  void buildTeachingDock();
  void loadSettings();
  void saveSettings() const;
  void addRecent(const QString& spec);
  void refreshRecent();
  void refreshCameras();
  void onFrame();
  void onState();
  void redraw();
  void applySettings();
  void showError(const QString& message);
  void annotateVideo();
  void recomputeTeaching();
  const Correspondence* teachingCarry();
  Scene::Label noFaceHint(int frame_width) const;
  static QString docsLink();

  Player player_;
  OverlayView* view_ = nullptr;
  SceneOptions scene_options_;
  std::map<QString, QAction*> actions_;
  QMenu* view_menu_ = nullptr;
  std::optional<Correspondence> teach_carry_;
  std::string teach_carry_id_;
  QComboBox* scheme_box_ = nullptr;
  QSlider* seek_ = nullptr;
  QSlider* grid_slider_ = nullptr;
  QSlider* arrow_slider_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QMenu* camera_menu_ = nullptr;
  QLabel* fps_label_ = nullptr;
  QLabel* latency_label_ = nullptr;
  QLabel* device_label_ = nullptr;
  QLabel* model_label_ = nullptr;
  QLabel* source_label_ = nullptr;
  QDockWidget* teach_dock_ = nullptr;
  QSlider* teach_t_ = nullptr;
  QSpinBox* teach_steps_ = nullptr;
  QActionGroup* min_face_group_ = nullptr;
  QActionGroup* device_group_ = nullptr;
  double overlay_scale_ = 1;
  QString model_file_;  // empty: the shipped model
  QString device_ = "auto";
  QSize camera_size_;  // empty: the camera's own
  cv::Mat shown_;
  QDoubleSpinBox* teach_kernel_ = nullptr;
  QStringList recent_;
  cv::VideoWriter recorder_;
  QString recording_file_;
  std::optional<TeachingFlow> teaching_;
  Points teaching_points_;  // clicked points, image pixels
  double fps_avg_ = 0;
  std::chrono::steady_clock::time_point last_frame_;
  int frames_shown_ = 0;
  bool seeking_ = false;
};

template <typename Slot>
QAction* MainWindow::menuAction(QMenu* menu, const QString& key, const QString& text,
                                const QKeySequence& shortcut, Slot slot) {
  QAction* a = menu->addAction(text);
  if (!shortcut.isEmpty()) a->setShortcut(shortcut);
  connect(a, &QAction::triggered, this, slot);
  actions_[key] = a;
  return a;
}

}  // namespace lddmm::ui
