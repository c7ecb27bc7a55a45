"""Chapter 7: regularization and model selection: ridge and lasso paths, forward stepwise
selection, PCA and principal-component regression, dropout.

The regressions model Grunfeld's investment on 13 standardized columns (market value, capital
stock, year, and 10 firm indicators); the dropout comparison trains an MLP on 300 digits.
Figures: ch07_paths.png (ridge and lasso coefficient paths).

Run: python examples/ch07_regularization.py [--quick] [--out DIR]
"""
import warnings

import numpy as np
import pandas as pd
from _common import parse_args, save
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import datasets, nn, optim, stats
from chainrule.train import Trainer

args = parse_args(__doc__.splitlines()[0])

frame = datasets.load_grunfeld(as_frame=True)
design = pd.concat([frame[["value", "capital", "year"]].astype(float),
                    pd.get_dummies(frame["firm"], prefix="firm", drop_first=True, dtype=float)], axis=1)
X = (design - design.mean()) / design.std(ddof=0)
y = frame["invest"]
# the file is sorted by firm: shuffle the rows once so that every cross-validation fold sees every firm
shuffled = np.random.default_rng(0).permutation(len(y))
X, y = X.iloc[shuffled].reset_index(drop=True), y.iloc[shuffled].reset_index(drop=True)
print(f"data: grunfeld, n = {len(y)}, p = {X.shape[1]} standardized columns")

ols = stats.OLS().fit(X, y)
ridge = stats.RidgeCV(alphas=np.logspace(-3, 3, 25), cv=5).fit(X, y)
lasso = stats.LassoCV(cv=5).fit(X, y)
print(f"OLS: R^2 = {ols.rsquared:.4f}")
print(f"ridge, alpha chosen by 5-fold CV = {ridge.alpha_:.4g}; largest |coef| {np.max(np.abs(ridge.coef_)):.2f} "
      f"(OLS {np.max(np.abs(np.asarray(ols.params)[1:])):.2f})")
print(f"lasso, alpha chosen by 5-fold CV = {lasso.alpha_:.4g}; nonzero coefficients: "
      f"{int(np.sum(lasso.coef_ != 0))} of {X.shape[1]}")

alphas = np.logspace(-3, 4, 60)
ridge_coefs, _ = stats.ridge_path(X, y, alphas)
path = stats.lasso_path(X, y, n_alphas=60)
figure = Figure(figsize=(10, 4), layout="constrained")
left, right = figure.subplots(1, 2)
left.semilogx(alphas, ridge_coefs)
left.set(xlabel="ridge penalty alpha (log scale)", ylabel="coefficient (invest per std. of column)",
         title="ridge: every coefficient shrinks smoothly")
right.semilogx(path.alphas, np.asarray(path.coefs).T)
right.set(xlabel="lasso penalty alpha (log scale)", ylabel="coefficient (invest per std. of column)",
          title="lasso: coefficients hit exactly zero")
save(figure, args.out, "ch07_paths.png")

for criterion in ("bic", "aic", "cv"):
    stepwise = stats.ForwardStepwise(criterion=criterion, random_state=0).fit(X, y)
    print(f"forward stepwise by {criterion:<3}: {stepwise.best_size_} predictors: {', '.join(stepwise.selected_)}")

pca = stats.PCA().fit(X)
cumulative = np.cumsum(pca.explained_variance_ratio_)
print(f"PCA: components needed for 90% of the variance: {int(np.searchsorted(cumulative, 0.9) + 1)} of {X.shape[1]}")
pcr = stats.PCR(n_components="cv", cv=5).fit(X, y)
print(f"PCR: components chosen by 5-fold CV = {pcr.n_components_}")

# dropout: an MLP on 300 training digits, with and without it
Xd, yd = datasets.load_digits()
Xd = (Xd / 16.0).astype(np.float32)
order = np.random.default_rng(0).permutation(len(yd))
test, train = order[:500], order[500:800]
epochs = 5 if args.quick else 100
for p in (0.0, 0.5):
    cr.manual_seed(0)
    model = nn.MLP([64, 256, 256, 10], dropout=p)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                      metrics=("accuracy",), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        last = trainer.fit((Xd[train], yd[train]), val=(Xd[test], yd[test]), epochs=epochs, batch_size=32).epochs[-1]
    print(f"dropout p = {p}: train loss {last['train_loss']:.4f}, test loss {last['val_loss']:.4f}, "
          f"test accuracy {last['val_accuracy']:.4f} ({epochs} epochs, 300 training rows)")
