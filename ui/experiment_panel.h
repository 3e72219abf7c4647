#pragma once

#include "core/run/experiment_spec.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <map>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace gfm::ui {

/**
 * @brief The experiment dock: pick a config, edit its main fields, start, pause and stop.
 *
 * Edited values are written into a copy of the config and validated with the same parser the
 * CLI uses, so the panel accepts exactly what `gflowmix-cli` accepts. A field that is not a
 * number, or that the parser names in its error, is marked red, and Start stays disabled
 * until the config is valid again.
 */
class ExperimentPanel : public QWidget
{
  Q_OBJECT

public:
  /** @brief Where training stands, for the buttons. */
  enum class State
  {
    Idle,
    Running,
    Paused,
    Stopping
  };

  explicit ExperimentPanel(QWidget* parent = nullptr);

  /** @brief Folders searched for shipped configs: build tree, then installed share. */
  static QStringList configDirectories();

  /** @brief Loads a config file into the form; false with `error` when it cannot be read. */
  bool loadConfig(const QString& path, QString* error = nullptr);

  /**
   * @brief Shows a session's config. Its picker entry, "NAME (session)", keeps the config, so
   * picking the entry again restores it instead of reading `source` as a JSON file.
   */
  void setConfig(const QJsonObject& config, const QString& source);

  /** @brief The config with the form's edits applied. */
  QJsonObject editedConfig() const;

  /** @brief The edited config, validated; nothing when a field is refused. */
  std::optional<core::ExperimentSpec> validatedSpec() const;

  /** @brief The line explaining why the config is refused (empty when it is valid). */
  QString errorText() const;

  /** @brief The editor of a dotted key such as "env.height" (null for other keys). */
  QLineEdit* field(const QString& key) const;

  /** @brief Whether the editor of a key is marked invalid. */
  bool isFieldInvalid(const QString& key) const;

  int threads() const;

  /** @brief Whether training is recorded into a session file. */
  bool recordSession() const;
  /** @brief The session file to record: the one typed, else a new dated file. */
  QString sessionPath() const;
  /** @brief Turns recording on into `path` (empty: a new dated file). */
  void setSessionPath(const QString& path);
  QString configPath() const { return m_path; }
  bool canStart() const;

public slots:
  void setState(gfm::ui::ExperimentPanel::State state);
  void setThreads(int threads);

signals:
  void startRequested();
  void pauseRequested();
  void resumeRequested();
  void stopRequested();
  /** The user picked another config file. */
  void configLoaded(const QString& path);

private:
  void revalidate();
  void openFile();
  void pickShipped(int index);
  /** Selects the picker entry for `path`, adding one labelled `label` if it has none. */
  void showSource(const QString& label, const QString& path);
  void populateFields();

  QJsonObject m_config;
  QString m_path;
  QComboBox* m_configBox = nullptr;
  QLabel* m_nameLabel = nullptr;
  std::map<QString, QLineEdit*> m_fields;
  QSpinBox* m_threads = nullptr;
  QComboBox* m_device = nullptr;
  QCheckBox* m_record = nullptr;
  QLineEdit* m_sessionPath = nullptr;
  QLabel* m_error = nullptr;
  QPushButton* m_start = nullptr;
  QPushButton* m_pause = nullptr;
  QPushButton* m_stop = nullptr;
  State m_state = State::Idle;
  bool m_valid = false;
  QString m_errorText;
};

} // namespace gfm::ui
