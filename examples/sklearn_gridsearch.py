"""scikit-learn: a Pipeline with a certified ReLU network, and GridSearchCV over beta."""

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn.datasets import load_diabetes
from convexnn.sklearn import ConvexReLURegressor, beta_path

X, y = load_diabetes()
X = X[:, [2]]  # BMI only: the exact 1-D oracle certifies every fit in well under a second

pipe = make_pipeline(StandardScaler(), ConvexReLURegressor())
search = GridSearchCV(pipe, {"convexreluregressor__beta": [1.0, 10.0, 30.0, 100.0]}, cv=3)
search.fit(X, y)
best = search.best_estimator_[-1]
print(f"best beta {search.best_params_}, CV R^2 {search.best_score_:.3f}")
print(f"refit: {best.n_neurons_} neurons, duality gap {best.dual_gap_:.1e}")

for result in beta_path(X, y, [100.0, 30.0, 10.0, 3.0, 1.0]):
    beta = result.info["beta"]
    print(
        f"beta {beta:6.1f}: objective {result.objective:9.4f}, "
        f"{result.network.pruned().width:2d} neurons, relative gap {result.relative_gap:.1e}"
    )
