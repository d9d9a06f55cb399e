// The view: the frame scaled to fit (aspect kept) with a Scene painted over it. No math: it paints what
// core/track's scene builder decided, and maps clicks back to image pixels.
#pragma once

#include <QImage>
#include <QPointF>
#include <QWidget>

#include <opencv2/core.hpp>

#include "lddmm/render/scene.hpp"

namespace lddmm::ui {

/// A BGR cv::Mat as a QImage (deep copy).
QImage to_qimage(const cv::Mat& bgr);
/// Paints a scene with QPainter in image coordinates (the painter's transform maps them to the device).
void paint_scene(QPainter& painter, const Scene& scene, double line_width);

class OverlayView : public QWidget {
  Q_OBJECT
 public:
  explicit OverlayView(QWidget* parent = nullptr);
  void setFrame(const QImage& image, Scene scene);
  void setScene(Scene scene);
  void setPlaceholder(const QString& text);
  /// Shows the momentum arrows' length legend (arrows are drawn `scale` × |α| image pixels long).
  void setMomentumLegend(bool show, double scale);
  /// Lines, points and text × `scale` (projectors).
  void setOverlayScale(double scale);
  const Scene& scene() const { return scene_; }
  const QImage& image() const { return image_; }
  /// The frame with the overlay at the frame's own resolution.
  QImage renderOverlay() const;
  QSize sizeHint() const override { return {960, 720}; }

 Q_SIGNALS:
  void imageClicked(QPointF image_point);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  QTransform imageToWidget() const;
  QImage image_;
  Scene scene_;
  QString placeholder_;
  bool legend_ = false;
  double legend_scale_ = 1;
  double overlay_scale_ = 1;
};

}  // namespace lddmm::ui
