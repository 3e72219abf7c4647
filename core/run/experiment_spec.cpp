#include "core/run/experiment_spec.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>
#include <functional>
#include <limits>

namespace gfm::core {

namespace {

// Largest grid whose per-state tables (partition, rewards) gflowmix builds at all.
constexpr std::int64_t kMaxTabulatedStates = std::int64_t{ 1 } << 26;

/**
 * Reads one JSON object against a fixed set of keys, filling defaults, checking types and
 * ranges, and recording the resolved values in `resolved`. The first problem wins: later reads
 * return the default and leave the message alone.
 */
class ObjectReader
{
public:
  ObjectReader(const QJsonObject& object, QString path, QString source, QString* error)
    : m_object(object)
    , m_path(std::move(path))
    , m_source(std::move(source))
    , m_error(error)
  {
  }

  bool ok() const { return m_error->isEmpty(); }
  QJsonObject& resolved() { return m_resolved; }
  QString keyPath(const QString& key) const
  {
    return m_path.isEmpty() ? key : m_path + QLatin1Char('.') + key;
  }

  void fail(const QString& message)
  {
    if (ok()) {
      *m_error = m_source + QStringLiteral(": ") + message;
    }
  }

  /** Fails on any key not in `allowed`. */
  void allowOnly(const QStringList& allowed)
  {
    for (const QString& key : m_object.keys()) {
      if (!allowed.contains(key)) {
        fail(QStringLiteral("unknown key '%1' (allowed: %2)")
               .arg(keyPath(key), allowed.join(QStringLiteral(", "))));
      }
    }
  }

  bool has(const QString& key) const { return m_object.contains(key); }

  std::int64_t integer(const QString& key, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi)
  {
    const QString range = QStringLiteral("an integer in [%1, %2]").arg(lo).arg(hi);
    std::int64_t value = fallback;
    if (m_object.contains(key)) {
      const QJsonValue v = m_object.value(key);
      const double x = v.toDouble(std::numeric_limits<double>::quiet_NaN());
      if (!v.isDouble() || std::floor(x) != x || x < static_cast<double>(lo) ||
          x > static_cast<double>(hi)) {
        fail(QStringLiteral("%1 must be %2, got %3").arg(keyPath(key), range, show(v)));
        return fallback;
      }
      value = static_cast<std::int64_t>(x);
    }
    m_resolved.insert(key, static_cast<double>(value));
    return value;
  }

  /** A number in [lo, hi], or in (lo, hi] when `openLow`, or [lo, hi) when `openHigh`. */
  double number(const QString& key, double fallback, double lo, double hi, bool openLow = false,
                bool openHigh = false)
  {
    double value = fallback;
    if (m_object.contains(key)) {
      const QJsonValue v = m_object.value(key);
      const double x = v.toDouble(std::numeric_limits<double>::quiet_NaN());
      const bool inRange = (openLow ? x > lo : x >= lo) && (openHigh ? x < hi : x <= hi);
      if (!v.isDouble() || !inRange) {
        const QString range = QStringLiteral("a number in %1%2, %3%4")
                                .arg(openLow ? QStringLiteral("(") : QStringLiteral("["))
                                .arg(lo)
                                .arg(hi)
                                .arg(openHigh ? QStringLiteral(")") : QStringLiteral("]"));
        fail(QStringLiteral("%1 must be %2, got %3").arg(keyPath(key), range, show(v)));
        return fallback;
      }
      value = x;
    }
    m_resolved.insert(key, value);
    return value;
  }

  bool boolean(const QString& key, bool fallback)
  {
    bool value = fallback;
    if (m_object.contains(key)) {
      const QJsonValue v = m_object.value(key);
      if (!v.isBool()) {
        fail(QStringLiteral("%1 must be true or false, got %2").arg(keyPath(key), show(v)));
        return fallback;
      }
      value = v.toBool();
    }
    m_resolved.insert(key, value);
    return value;
  }

  QString choice(const QString& key, const QString& fallback, const QStringList& choices)
  {
    QString value = fallback;
    if (m_object.contains(key)) {
      const QJsonValue v = m_object.value(key);
      if (!v.isString() || !choices.contains(v.toString())) {
        fail(QStringLiteral("%1 must be one of %2, got %3")
               .arg(keyPath(key), choices.join(QStringLiteral(" | ")), show(v)));
        return fallback;
      }
      value = v.toString();
    }
    m_resolved.insert(key, value);
    return value;
  }

  QString text(const QString& key, const QString& fallback)
  {
    QString value = fallback;
    if (m_object.contains(key)) {
      const QJsonValue v = m_object.value(key);
      if (!v.isString() || v.toString().trimmed().isEmpty()) {
        fail(QStringLiteral("%1 must be a non-empty string, got %2").arg(keyPath(key), show(v)));
        return fallback;
      }
      value = v.toString();
    }
    m_resolved.insert(key, value);
    return value;
  }

  /** A nested object (absent = empty); fails when the key holds something else. */
  QJsonObject object(const QString& key)
  {
    if (!m_object.contains(key)) {
      return {};
    }
    const QJsonValue v = m_object.value(key);
    if (!v.isObject()) {
      fail(QStringLiteral("%1 must be an object, got %2").arg(keyPath(key), show(v)));
      return {};
    }
    return v.toObject();
  }

  static QString show(const QJsonValue& v)
  {
    switch (v.type()) {
      case QJsonValue::String:
        return QLatin1Char('"') + v.toString() + QLatin1Char('"');
      case QJsonValue::Double:
        return QString::number(v.toDouble(), 'g', 12);
      case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
      case QJsonValue::Null:
        return QStringLiteral("null");
      case QJsonValue::Array:
        return QStringLiteral("an array");
      case QJsonValue::Object:
        return QStringLiteral("an object");
      default:
        return QStringLiteral("nothing");
    }
  }

private:
  QJsonObject m_object;
  QJsonObject m_resolved;
  QString m_path;
  QString m_source;
  QString* m_error;
};

const QStringList kTrainingKeys = {
  QStringLiteral("steps"),          QStringLiteral("batch"),
  QStringLiteral("lr"),             QStringLiteral("lr_log_z"),
  QStringLiteral("epsilon"),        QStringLiteral("off_policy_ratio"),
  QStringLiteral("seed"),           QStringLiteral("log_reward_floor"),
  QStringLiteral("clip_grad_norm"), QStringLiteral("buffer_size"),
  QStringLiteral("buffer_grow"),    QStringLiteral("visited_window"),
};

/** Reads training keys present in `reader` on top of `base`. */
TrainingSpec readTraining(ObjectReader& reader, const TrainingSpec& base)
{
  TrainingSpec t = base;
  t.steps = reader.integer(QStringLiteral("steps"), base.steps, 1, 1'000'000'000);
  t.batch = static_cast<int>(reader.integer(QStringLiteral("batch"), base.batch, 1, 65536));
  t.lr = reader.number(QStringLiteral("lr"), base.lr, 0.0, 10.0, true);
  t.lrLogZ = reader.number(QStringLiteral("lr_log_z"), base.lrLogZ, 0.0, 100.0, true);
  t.epsilon = reader.number(QStringLiteral("epsilon"), base.epsilon, 0.0, 1.0);
  t.offPolicyRatio =
    reader.number(QStringLiteral("off_policy_ratio"), base.offPolicyRatio, 0.0, 1.0, false, true);
  t.seed = static_cast<std::uint64_t>(
    reader.integer(QStringLiteral("seed"), static_cast<std::int64_t>(base.seed), 0,
                   std::int64_t{ 1 } << 53));
  t.logRewardFloor =
    reader.number(QStringLiteral("log_reward_floor"), base.logRewardFloor, -1000.0, 0.0);
  t.clipGradNorm = reader.number(QStringLiteral("clip_grad_norm"), base.clipGradNorm, 0.0, 1e9);
  t.bufferSize =
    static_cast<int>(reader.integer(QStringLiteral("buffer_size"), base.bufferSize, 1, 10'000'000));
  t.bufferGrow = reader.boolean(QStringLiteral("buffer_grow"), base.bufferGrow);
  t.visitedWindow = static_cast<int>(
    reader.integer(QStringLiteral("visited_window"), base.visitedWindow, 0, 100'000'000));
  return t;
}

PartitionSpec readPartition(ObjectReader& reader, const QString& kindName)
{
  PartitionSpec p;
  if (kindName == QLatin1String("nearest-mode")) {
    p.kind = PartitionKind::NearestMode;
  } else if (kindName == QLatin1String("random-sphere")) {
    p.kind = PartitionKind::RandomSphere;
  } else if (kindName == QLatin1String("k-means")) {
    p.kind = PartitionKind::KMeans;
  }
  const bool sized = p.kind == PartitionKind::RandomSphere || p.kind == PartitionKind::KMeans;
  if (sized) {
    p.parts = static_cast<int>(reader.integer(QStringLiteral("parts"), 4, 2, 4096));
  }
  if (p.kind == PartitionKind::RandomSphere) {
    p.centred = reader.boolean(QStringLiteral("centred"), true);
  }
  if (p.kind == PartitionKind::KMeans) {
    p.referenceSize =
      static_cast<int>(reader.integer(QStringLiteral("reference_size"), 1000, 2, 10'000'000));
  }
  QStringList allowed = { QStringLiteral("kind") };
  if (sized) {
    allowed << QStringLiteral("parts");
  }
  if (p.kind == PartitionKind::RandomSphere) {
    allowed << QStringLiteral("centred");
  }
  if (p.kind == PartitionKind::KMeans) {
    allowed << QStringLiteral("reference_size");
  }
  reader.allowOnly(allowed);
  return p;
}

} // namespace

QString partitionKindName(PartitionKind kind)
{
  switch (kind) {
    case PartitionKind::None:
      return QStringLiteral("none");
    case PartitionKind::NearestMode:
      return QStringLiteral("nearest-mode");
    case PartitionKind::RandomSphere:
      return QStringLiteral("random-sphere");
    case PartitionKind::KMeans:
      return QStringLiteral("k-means");
  }
  return {};
}

std::optional<ExperimentSpec> parseExperiment(const QJsonObject& config, const QString& source,
                                              QString* error)
{
  QString message;
  ExperimentSpec spec;
  spec.source = source;
  ObjectReader top(config, QString(), source, &message);
  top.allowOnly({ QStringLiteral("name"), QStringLiteral("description"), QStringLiteral("env"),
                  QStringLiteral("policy"), QStringLiteral("training"), QStringLiteral("runs"),
                  QStringLiteral("eval") });
  spec.name = top.text(QStringLiteral("name"), QFileInfo(source).completeBaseName());
  if (top.has(QStringLiteral("description"))) {
    top.text(QStringLiteral("description"), QString());
  }

  ObjectReader env(top.object(QStringLiteral("env")), QStringLiteral("env"), source, &message);
  env.allowOnly({ QStringLiteral("kind"), QStringLiteral("dim"), QStringLiteral("height"),
                  QStringLiteral("r0"), QStringLiteral("r1"), QStringLiteral("r2") });
  spec.envKind = env.choice(QStringLiteral("kind"), QStringLiteral("hypergrid"),
                            { QStringLiteral("hypergrid") });
  spec.grid.dim = static_cast<int>(env.integer(QStringLiteral("dim"), 2, 1, 16));
  spec.grid.height = static_cast<int>(env.integer(QStringLiteral("height"), 8, 2, 100000));
  spec.grid.r0 = env.number(QStringLiteral("r0"), 0.1, 0.0, 1e12);
  spec.grid.r1 = env.number(QStringLiteral("r1"), 0.5, 0.0, 1e12);
  spec.grid.r2 = env.number(QStringLiteral("r2"), 2.0, 0.0, 1e12);

  ObjectReader policy(top.object(QStringLiteral("policy")), QStringLiteral("policy"), source,
                      &message);
  policy.allowOnly({ QStringLiteral("hidden"), QStringLiteral("layers"),
                     QStringLiteral("backward"), QStringLiteral("shared_trunk") });
  spec.policy.hidden = static_cast<int>(policy.integer(QStringLiteral("hidden"), 256, 1, 8192));
  spec.policy.layers = static_cast<int>(policy.integer(QStringLiteral("layers"), 2, 1, 16));
  spec.policy.backward = policy.choice(QStringLiteral("backward"), QStringLiteral("learned"),
                                       { QStringLiteral("learned"), QStringLiteral("uniform") }) ==
                             QLatin1String("uniform")
                           ? BackwardPolicy::Uniform
                           : BackwardPolicy::Learned;
  spec.policy.sharedTrunk = policy.boolean(QStringLiteral("shared_trunk"), false);

  TrainingSpec defaults;
  defaults.offPolicyRatio = 0.25;
  ObjectReader training(top.object(QStringLiteral("training")), QStringLiteral("training"), source,
                        &message);
  training.allowOnly(kTrainingKeys);
  spec.training = readTraining(training, defaults);

  ObjectReader eval(top.object(QStringLiteral("eval")), QStringLiteral("eval"), source, &message);
  eval.allowOnly({ QStringLiteral("every"), QStringLiteral("exact"), QStringLiteral("max_states"),
                   QStringLiteral("checkpoint_every") });
  spec.eval.every = static_cast<int>(eval.integer(QStringLiteral("every"), 200, 1, 1'000'000'000));
  spec.eval.exact = eval.boolean(QStringLiteral("exact"), true);
  spec.eval.maxStates =
    eval.integer(QStringLiteral("max_states"), std::int64_t{ 1 } << 21, 1, kMaxTabulatedStates);
  spec.eval.checkpointEvery =
    static_cast<int>(eval.integer(QStringLiteral("checkpoint_every"), 5, 0, 1'000'000));

  // The grid's size decides what can be tabulated and evaluated exactly.
  double states = 1.0;
  for (int d = 0; d < spec.grid.dim; ++d) {
    states *= spec.grid.height;
  }
  if (top.ok() && states > static_cast<double>(kMaxTabulatedStates)) {
    top.fail(QStringLiteral("env: the grid has %1^%2 = %3 states, more than the %4 gflowmix can "
                            "tabulate; lower env.height or env.dim")
               .arg(spec.grid.height)
               .arg(spec.grid.dim)
               .arg(states, 0, 'g', 6)
               .arg(kMaxTabulatedStates));
  } else if (top.ok() && spec.eval.exact && states > static_cast<double>(spec.eval.maxStates)) {
    top.fail(QStringLiteral("env: the grid has %1^%2 = %3 states, more than eval.max_states = %4 "
                            "for exact evaluation; raise eval.max_states or set eval.exact to "
                            "false")
               .arg(spec.grid.height)
               .arg(spec.grid.dim)
               .arg(states, 0, 'g', 12)
               .arg(spec.eval.maxStates));
  }
  if (top.ok() && spec.grid.r0 == 0.0 && spec.grid.r1 == 0.0 &&
      (spec.grid.r2 == 0.0 || !Hypergrid(spec.grid).hasModes())) {
    top.fail(QStringLiteral("env: every reward is zero (r0 = r1 = 0 and no r2 mode cells); "
                            "raise env.r0 or env.r1"));
  }

  // Runs: each entry a standard GFlowNet or a mixture, over one or more seeds.
  QJsonArray resolvedRuns;
  const QJsonValue runsValue = config.value(QStringLiteral("runs"));
  QJsonArray runs;
  if (runsValue.isUndefined()) {
    runs.append(QJsonObject{ { QStringLiteral("name"), QStringLiteral("standard") } });
  } else if (!runsValue.isArray() || runsValue.toArray().isEmpty()) {
    top.fail(QStringLiteral("runs must be a non-empty array of run objects, got %1")
               .arg(ObjectReader::show(runsValue)));
  } else {
    runs = runsValue.toArray();
  }
  QStringList names;
  for (int i = 0; i < runs.size() && top.ok(); ++i) {
    const QString path = QStringLiteral("runs[%1]").arg(i);
    if (!runs.at(i).isObject()) {
      top.fail(QStringLiteral("%1 must be an object, got %2")
                 .arg(path, ObjectReader::show(runs.at(i))));
      break;
    }
    ObjectReader entry(runs.at(i).toObject(), path, source, &message);
    QStringList allowed = { QStringLiteral("name"), QStringLiteral("parts"),
                            QStringLiteral("partition"), QStringLiteral("seeds"),
                            QStringLiteral("weights") };
    entry.allowOnly(allowed + kTrainingKeys);

    RunSpec run;
    run.name = entry.text(QStringLiteral("name"), QStringLiteral("run%1").arg(i));
    if (names.contains(run.name)) {
      entry.fail(QStringLiteral("%1.name \"%2\" is used by another run").arg(path, run.name));
    }
    names << run.name;
    const QJsonObject partitionObject = entry.object(QStringLiteral("partition"));
    if (entry.has(QStringLiteral("partition"))) {
      ObjectReader partition(partitionObject, path + QStringLiteral(".partition"), source,
                             &message);
      const QString kind =
        partition.choice(QStringLiteral("kind"), QStringLiteral("nearest-mode"),
                         { QStringLiteral("none"), QStringLiteral("nearest-mode"),
                           QStringLiteral("random-sphere"), QStringLiteral("k-means") });
      run.partition = readPartition(partition, kind);
      entry.resolved().insert(QStringLiteral("partition"), partition.resolved());
    }
    const int parts = static_cast<int>(entry.integer(QStringLiteral("parts"), 1, 1, 4096));
    if (parts > 1 && run.partition.kind == PartitionKind::None) {
      entry.fail(QStringLiteral("%1.parts = %2 needs a partition (%1.partition.kind)")
                   .arg(path)
                   .arg(parts));
    }
    run.seeds = static_cast<int>(entry.integer(QStringLiteral("seeds"), 1, 1, 1000));
    run.weights = entry.choice(QStringLiteral("weights"), QStringLiteral("z"),
                               { QStringLiteral("z"), QStringLiteral("uniform") }) ==
                      QLatin1String("uniform")
                    ? MixtureWeights::Uniform
                    : MixtureWeights::LearnedZ;

    // A standard GFlowNet trains on-policy only unless its entry says otherwise (as the
    // paper's baselines did); mixture parts take the experiment's share.
    TrainingSpec base = spec.training;
    if (run.partition.kind == PartitionKind::None) {
      base.offPolicyRatio = 0.0;
    }
    run.training = readTraining(entry, base);
    spec.runs.push_back(run);
    resolvedRuns.append(entry.resolved());
  }

  if (!message.isEmpty()) {
    if (error) {
      *error = message;
    }
    return std::nullopt;
  }
  spec.json = top.resolved();
  spec.json.insert(QStringLiteral("env"), env.resolved());
  spec.json.insert(QStringLiteral("policy"), policy.resolved());
  spec.json.insert(QStringLiteral("training"), training.resolved());
  spec.json.insert(QStringLiteral("eval"), eval.resolved());
  spec.json.insert(QStringLiteral("runs"), resolvedRuns);
  return spec;
}

bool applyOverride(QJsonObject& config, const QString& assignment, QString* error)
{
  const qsizetype eq = assignment.indexOf(QLatin1Char('='));
  if (eq <= 0) {
    *error = QStringLiteral("--set '%1': expected KEY=VALUE with a dotted key, e.g. "
                            "env.height=16")
               .arg(assignment);
    return false;
  }
  const QStringList keys = assignment.left(eq).split(QLatin1Char('.'));
  const QString text = assignment.mid(eq + 1);
  QJsonParseError parseError;
  const QJsonDocument parsed = QJsonDocument::fromJson(
    QStringLiteral("[%1]").arg(text).toUtf8(), &parseError);
  const QJsonValue value = parseError.error == QJsonParseError::NoError
                             ? parsed.array().at(0)
                             : QJsonValue(text);

  // Walk down, then rebuild the path bottom-up (QJsonObject and QJsonArray are values).
  std::function<bool(QJsonValue&, int)> assign = [&](QJsonValue& node, int depth) -> bool {
    const QString& key = keys.at(depth);
    bool isIndex = false;
    const int index = key.toInt(&isIndex);
    if (node.isArray() && isIndex) {
      QJsonArray array = node.toArray();
      if (index < 0 || index >= array.size()) {
        *error = QStringLiteral("--set %1: index %2 is outside the array (size %3)")
                   .arg(assignment.left(eq))
                   .arg(index)
                   .arg(array.size());
        return false;
      }
      QJsonValue child = array.at(index);
      if (depth + 1 == keys.size()) {
        child = value;
      } else if (!assign(child, depth + 1)) {
        return false;
      }
      array[index] = child;
      node = array;
      return true;
    }
    QJsonObject object = node.isObject() ? node.toObject() : QJsonObject();
    if (!node.isObject() && !node.isUndefined() && !node.isNull()) {
      *error = QStringLiteral("--set %1: '%2' is not an object")
                 .arg(assignment.left(eq), keys.mid(0, depth).join(QLatin1Char('.')));
      return false;
    }
    QJsonValue child = object.value(key);
    if (depth + 1 == keys.size()) {
      child = value;
    } else if (!assign(child, depth + 1)) {
      return false;
    }
    object.insert(key, child);
    node = object;
    return true;
  };
  QJsonValue root(config);
  if (!assign(root, 0)) {
    return false;
  }
  config = root.toObject();
  return true;
}

std::optional<ExperimentSpec> loadExperiment(const QString& path, const QStringList& overrides,
                                             QString* error)
{
  const QString name = QFileInfo(path).fileName();
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("%1: cannot open: %2").arg(path, file.errorString());
    return std::nullopt;
  }
  const QByteArray bytes = file.readAll();
  if (bytes.trimmed().isEmpty()) {
    *error = QStringLiteral("%1: the file is empty; expected a JSON object").arg(name);
    return std::nullopt;
  }
  QJsonParseError parseError;
  const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
  if (parseError.error != QJsonParseError::NoError) {
    const int line = static_cast<int>(bytes.left(parseError.offset).count('\n')) + 1;
    *error = QStringLiteral("%1: not valid JSON at line %2 (offset %3): %4")
               .arg(name)
               .arg(line)
               .arg(parseError.offset)
               .arg(parseError.errorString());
    return std::nullopt;
  }
  if (!document.isObject()) {
    *error = QStringLiteral("%1: the top level must be a JSON object").arg(name);
    return std::nullopt;
  }
  QJsonObject config = document.object();
  for (const QString& assignment : overrides) {
    QString message;
    if (!applyOverride(config, assignment, &message)) {
      *error = name + QStringLiteral(": ") + message;
      return std::nullopt;
    }
  }
  return parseExperiment(config, name, error);
}

} // namespace gfm::core
