// The main window's logic under Qt's offscreen platform: actions and shortcuts, errors in the status bar
// (never a modal dialog), playing the generated clip, export, recording, the scheme selector, the
// teaching view, persisted settings.
#include <QApplication>
#include <QComboBox>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>

#include <QPainter>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "lddmm/net/device.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/track/clip.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/ui/main_window.hpp"

using lddmm::ui::MainWindow;

class UiTest : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;
  QString clip_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("lddmm-face-test");
    QApplication::setApplicationName("lddmm-face-test");
    QSettings().clear();
    lddmm::ClipOptions o;
    if (std::filesystem::exists(o.faces_dir / o.image)) {
      o.frames = 40;
      clip_ = dir_.filePath("clip.avi");
      lddmm::generate_clip(o, clip_.toStdString(), dir_.filePath("clip.truth.csv").toStdString());
    }
  }

  void actionsHaveShortcutsAndDriveTheScene() {
    MainWindow w;
    for (const char* name :
         {"open",          "export",         "screenshot", "record",    "play",           "step",
          "teach",         "grid",           "momenta",    "landmarks", "indices",        "curves",
          "template",      "trajectories",   "boxes",      "smoothing", "mirror",         "accurate",
          "pose",          "fullscreen",     "shortcuts",  "quit",      "per_curve_grid", "mirror_view",
          "overlayLarger", "overlaySmaller", "exportFlow", "openModel"}) {
      QVERIFY2(w.action(name) != nullptr, name);
      QVERIFY2(!w.action(name)->shortcut().isEmpty(), name);
    }
    // Help ▸ Keyboard Shortcuts lists every action that has a key; About names the version and the terms.
    const QString keys = w.shortcutsText();
    for (const auto* line : {"F11\tFull Screen", "P\tHead Pose Axes", "G\tDeformation Grid", "Ctrl+Q\tQuit"})
      QVERIFY2(keys.contains(line), qPrintable(keys));
    QVERIFY(w.aboutText().contains(LDDMM_VERSION) && w.aboutText().contains("MIT") &&
            w.aboutText().contains("300-W"));
    QVERIFY2(w.aboutText().contains("href=\"file://") && w.aboutText().contains("README.md"),
             qPrintable(w.aboutText()));
    const bool grid = w.sceneOptions().grid;
    w.action("grid")->trigger();
    QCOMPARE(w.sceneOptions().grid, !grid);
    QVERIFY(!w.player().settings().mirror);
    w.action("mirror")->trigger();  // the tracker is rebuilt with test-time mirroring
    QVERIFY2(w.player().settings().mirror, qPrintable(w.statusText()));
    QVERIFY(!w.player().settings().per_curve_grid);
    w.action("per_curve_grid")->trigger();  // the paper's per-curve grid instead of the continuous one
    QVERIFY2(w.player().settings().per_curve_grid, qPrintable(w.statusText()));
    w.action("mirror")->trigger();
    QVERIFY(!w.player().settings().mirror);
    w.action("accurate")->trigger();  // rebuilt as the ensemble of the two shipped models
    QVERIFY2(w.player().settings().accurate, qPrintable(w.statusText()));
    QVERIFY2(w.player().modelName().contains("accurate"), qPrintable(w.player().modelName()));
    w.action("accurate")->trigger();
    QVERIFY(!w.player().settings().accurate);
    QVERIFY(!w.player().modelName().contains("accurate"));
    QVERIFY(w.schemeBox()->count() >= 6);
  }

  void badSourcesGoToTheStatusBarNotADialog() {
    MainWindow w;
    w.show();
    QVERIFY(!w.openSource("/nonexistent/video.mp4"));
    QVERIFY2(w.statusText().contains("no such file"), qPrintable(w.statusText()));
    QVERIFY(QApplication::activeModalWidget() == nullptr);
    QVERIFY(!w.openSource("/dev/video97"));
    QVERIFY2(w.statusText().contains("camera"), qPrintable(w.statusText()));
  }

  // A frame without a face says how small a face is looked for; a frame with faces does not.
  void noFaceHintOnAnEmptyFrame() {
    const QString blank = dir_.filePath("blank.png");
    QImage img(320, 240, QImage::Format_RGB888);
    img.fill(QColor(90, 110, 120));
    QVERIFY(img.save(blank));
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(blank));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 1, 60000);
    const auto& labels = w.view().scene().labels;
    QVERIFY(std::any_of(labels.begin(), labels.end(), [&](const lddmm::Scene::Label& l) {
      return l.text.find("no face of at least " + std::to_string(w.player().settings().min_face) +
                         " px found") != std::string::npos;
    }));
  }

  void playsTheClipExportsAndRecords() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(clip_));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 5, 60000);
    QVERIFY(w.view().scene().dots.size() >= 3 * 68u);
    for (const auto& l : w.view().scene().labels) QVERIFY(l.text.find("no face") == std::string::npos);
    const QString rec = dir_.filePath("overlay.avi");
    QVERIFY(w.startRecording(rec));
    const int at = w.framesShown();
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= at + 3, 60000);
    w.stopRecording();
    QVERIFY(QFileInfo(rec).size() > 1000);
    const QString csv = dir_.filePath("landmarks.csv");
    QVERIFY(w.exportLandmarks(csv));
    const auto rows = lddmm::read_landmarks(csv.toStdString());
    QVERIFY(rows.size() >= 5u);
    QCOMPARE(rows.front().points.rows(), Eigen::Index(68));
    const QString png = dir_.filePath("shot.png");
    QVERIFY(w.saveScreenshot(png));
    QVERIFY(QImage(png).width() > 100);
  }

  void schemeSelectorCarriesAnotherSchemeAndTeachingFlows() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    QVERIFY(w.openSource(clip_));
    w.schemeBox()->setCurrentIndex(3);  // WFLW 98
    QTRY_VERIFY_WITH_TIMEOUT(w.player().outputScheme() && w.player().outputScheme()->num_points == 98, 30000);
    const int at = w.framesShown();
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= at + 2, 60000);
    QVERIFY(!w.player().current()->result.faces.empty());
    QCOMPARE(w.player().current()->result.faces.front().points.rows(), Eigen::Index(98));
    // Teaching: at t = 0 the landmarks sit on the template, at t = 1 on the flowed curves.
    w.setTeaching(true);
    QVERIFY(!w.player().playing());
    const auto& face = w.player().current()->result.faces.front();
    QVERIFY(face.flow.has_value());
    w.setTeachingTime(0.0);
    const auto start = w.view().scene().dots;
    w.setTeachingTime(1.0);
    const auto end = w.view().scene().dots;
    QVERIFY(start.size() >= 68u);
    QVERIFY((start.front().p - face.flow->template_points.row(0)).norm() < 1e-6);
    QVERIFY((start.front().p - end.front().p).norm() > 0.5);
    // The flow exported: a video of 61 frames and a strip of five panels.
    const QString video = dir_.filePath("flow.mp4"), strip = dir_.filePath("flow.png");
    QVERIFY2(w.exportFlow(video), qPrintable(w.statusText()));
    cv::VideoCapture cap(video.toStdString());
    int frames = 0;
    for (cv::Mat m; cap.read(m);) ++frames;
    QCOMPARE(frames, 61);
    QVERIFY2(w.exportFlow(strip), qPrintable(w.statusText()));
    const QImage panels(strip);
    QVERIFY(panels.width() > 4 * panels.height());
    QVERIFY(!w.exportFlow(dir_.filePath("flow.gif")));
    QVERIFY2(w.statusText().contains("unknown video format"), qPrintable(w.statusText()));
  }

  // The mirrored ("selfie") view: the frame flipped, every landmark at x → width − 1 − x on it; off for
  // files.
  void mirroredViewFlipsTheFrameAndItsLandmarks() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    w.action("mirror_view")->setChecked(true);
    QVERIFY(w.openSource(clip_));
    QVERIFY(!w.action("mirror_view")->isChecked());  // files open unmirrored
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 3, 60000);
    w.player().pause();
    const auto& cur = *w.player().current();
    QVERIFY(!cur.result.faces.empty());
    w.action("mirror_view")->trigger();
    const cv::Mat& shown = w.shownFrame();
    const int W = cur.image.cols;
    for (const cv::Point p : {cv::Point(0, 0), cv::Point(10, 20), cv::Point(W - 1, cur.image.rows - 1)})
      QCOMPARE(shown.at<cv::Vec3b>(p.y, W - 1 - p.x), cur.image.at<cv::Vec3b>(p.y, p.x));
    const auto& dots = w.view().scene().dots;
    for (const auto& face : cur.result.faces)
      for (Eigen::Index i = 0; i < face.points.rows(); ++i) {
        const Eigen::RowVector2d want(W - 1 - face.points(i, 0), face.points(i, 1));
        QVERIFY(std::any_of(dots.begin(), dots.end(),
                            [&](const lddmm::Scene::Dot& d) { return (d.p - want).norm() < 1e-9; }));
      }
  }

  // The teaching view's grid painted by the app's own painter is one piece of pixels with the continuous
  // flow, and in pieces with the paper's per-curve flows (Shift+G).
  void gridPaintedByTheAppIsOnePiece() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    for (const char* off :
         {"landmarks", "indices", "curves", "template", "momenta", "trajectories", "boxes", "pose"})
      w.action(off)->setChecked(false);
    w.action("grid")->setChecked(true);
    w.action("per_curve_grid")->setChecked(false);
    QVERIFY(w.openSource(clip_));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 3, 60000);
    w.setTeaching(true);
    w.setTeachingTime(1.0);
    const auto pieces = [&w] {
      const QImage& frame = w.view().image();
      QImage canvas(frame.size(), QImage::Format_RGB888);
      canvas.fill(Qt::black);
      {
        QPainter p(&canvas);
        lddmm::ui::paint_scene(p, w.view().scene(), 1.0);
      }
      cv::Mat mask(canvas.height(), canvas.width(), CV_8U), labels;
      for (int y = 0; y < canvas.height(); ++y)
        for (int x = 0; x < canvas.width(); ++x) {
          const QRgb c = canvas.pixel(x, y);  // any channel: deep blue (compression) is dark in grey
          mask.at<uint8_t>(y, x) = std::max({qRed(c), qGreen(c), qBlue(c)}) > 0 ? 255 : 0;
        }
      return cv::connectedComponents(mask, labels, 8) - 1;
    };
    QVERIFY(!w.view().scene().lines.empty());
    QCOMPARE(pieces(), 1);
    w.action("per_curve_grid")->trigger();
    QVERIFY(pieces() > 1);
  }

  // The grid switched on while paused is computed for the frame on the screen, not only from the next one.
  void gridSwitchedOnWhilePausedAppearsOnTheShownFrame() {
    if (clip_.isEmpty()) QSKIP("dlib's example photos are not installed: no sample clip");
    MainWindow w;
    w.show();
    if (w.action("grid")->isChecked()) w.action("grid")->trigger();
    QVERIFY(w.openSource(clip_));
    QTRY_VERIFY_WITH_TIMEOUT(w.framesShown() >= 3, 60000);
    w.player().pause();
    const int64_t index = w.player().current()->result.index;
    const auto has_grid = [&w] {
      const auto& faces = w.player().current()->result.faces;
      return !faces.empty() && faces.front().flow && faces.front().flow->grid.rows() > 0;
    };
    QVERIFY(!has_grid());
    w.action("grid")->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(has_grid(), 30000);
    QCOMPARE(w.player().current()->result.index, index);
  }

  // A model that cannot be read leaves the running one; the shipped one can be chosen again; so the device.
  void openModelFromTheGui() {
    MainWindow w;
    const QString before = w.player().modelName();
    QVERIFY(!w.openModel(dir_.filePath("missing.pt")));
    QVERIFY2(w.statusText().contains("missing.pt"), qPrintable(w.statusText()));
    QCOMPARE(w.player().modelName(), before);
    QVERIFY(w.openModel(QString::fromStdString(lddmm::default_model_path())));
    QCOMPARE(w.player().modelName(), before);  // the same file, named
    QVERIFY(w.openModel(QString()));
    // The device: the CPU always; a GPU only where LibTorch sees one (else an error, and the CPU stays).
    QVERIFY(w.setDevice("cpu"));
    QCOMPARE(w.player().deviceName(), QString("CPU"));
    if (lddmm::cuda_devices() == 0) {
      QVERIFY(!w.setDevice("cuda"));
      QVERIFY2(w.statusText().contains("no CUDA GPU"), qPrintable(w.statusText()));
      QCOMPARE(w.player().settings().device, std::string("cpu"));
    }
  }

  void settingsPersist() {
    {
      MainWindow w;
      w.action("momenta")->setChecked(false);
      w.close();
    }
    MainWindow again;
    QVERIFY(!again.action("momenta")->isChecked());
    again.action("overlayLarger")->trigger();
    QCOMPARE(again.overlayScale(), 1.5);
    again.close();
    MainWindow third;
    QCOMPARE(third.overlayScale(), 1.5);  // remembered
    third.setOverlayScale(1);
    QVERIFY(!again.sceneOptions().momenta);
  }
};

QTEST_MAIN(UiTest)
#include "test_ui.moc"
