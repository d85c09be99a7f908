import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from otcompanion import data


def test_breast_cancer_table_layout():
    dataset = data.load_breast_cancer_tokens(layout="table")
    assert dataset.X.shape == (569, 30) and dataset.y.shape == (569,)
    assert dataset.target_names == ["malignant", "benign"]
    assert np.bincount(dataset.y).tolist() == [212, 357]


def test_breast_cancer_grouped_layouts_keep_the_columns():
    bunch = load_breast_cancer()
    column = {name: j for j, name in enumerate(bunch.feature_names)}
    by_measurement = data.load_breast_cancer_tokens(layout="measurements")
    assert by_measurement.X.shape == (569, 10, 3)
    assert by_measurement.feature_names == ["mean", "se", "worst"]
    area = by_measurement.token_names.index("area")
    np.testing.assert_array_equal(by_measurement.X[:, area, 0], bunch.data[:, column["mean area"]])
    np.testing.assert_array_equal(by_measurement.X[:, area, 1], bunch.data[:, column["area error"]])
    np.testing.assert_array_equal(by_measurement.X[:, area, 2], bunch.data[:, column["worst area"]])
    by_statistic = data.load_breast_cancer_tokens(layout="statistics")
    assert by_statistic.X.shape == (569, 3, 10)
    np.testing.assert_array_equal(by_statistic.X.transpose(0, 2, 1), by_measurement.X)


def test_breast_cancer_rejects_unknown_layout():
    with pytest.raises(ValueError, match="layout must be one of"):
        data.load_breast_cancer_tokens(layout="grid")


def write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_csv_reads_features_and_encodes_labels(tmp_path):
    path = write(tmp_path, "a,b,label,c\n1,2,yes,3\n4,5,no,6\n7,8,yes,9\n")
    dataset = data.load_csv(path, target="label")
    np.testing.assert_array_equal(dataset.X, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert dataset.target_names == ["no", "yes"]
    np.testing.assert_array_equal(dataset.y, [1, 0, 1])
    assert dataset.feature_names == ["a", "b", "c"]


def test_load_csv_selects_features_and_groups_tokens(tmp_path):
    path = write(tmp_path, "y,a,b,c,d\n0,1,2,3,4\n1,5,6,7,8\n")
    subset = data.load_csv(path, target="y", features=["d", "a"])
    np.testing.assert_array_equal(subset.X, [[4, 1], [8, 5]])
    grouped = data.load_csv(path, target="y", n_tokens=2)
    assert grouped.X.shape == (2, 2, 2)
    np.testing.assert_array_equal(grouped.X[1], [[5, 6], [7, 8]])


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file at"):
        data.load_csv(tmp_path / "absent.csv", target="y")


def test_load_csv_missing_target_column_lists_columns(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match=r"no target column 'label'.*\['a', 'b'\]"):
        data.load_csv(path, target="label")


def test_load_csv_missing_feature_column(tmp_path):
    path = write(tmp_path, "a,y\n1,0\n3,1\n")
    with pytest.raises(ValueError, match=r"no feature column\(s\) \['z'\]"):
        data.load_csv(path, target="y", features=["a", "z"])


def test_load_csv_names_column_and_row_of_a_non_numeric_value(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n5,oops,1\n")
    with pytest.raises(ValueError, match=r"column 'b' has a non-numeric value 'oops' in row 3 "
                                         r"\(line 4 of the file\)"):
        data.load_csv(path, target="y")


def test_load_csv_names_column_and_row_of_a_missing_value(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n,4,1\n")
    with pytest.raises(ValueError, match=r"column 'a' has a missing value in row 2"):
        data.load_csv(path, target="y")
    path = write(tmp_path, "a,b,y\n1,2,0\n3,NA,1\n", "na.csv")
    with pytest.raises(ValueError, match=r"column 'b' has a missing value in row 2"):
        data.load_csv(path, target="y")
    path = write(tmp_path, "a,y\n1,0\n3,\n", "target.csv")
    with pytest.raises(ValueError, match=r"target column 'y' has a missing value in row 2"):
        data.load_csv(path, target="y")


def test_load_csv_needs_two_classes(tmp_path):
    path = write(tmp_path, "a,y\n1,same\n2,same\n")
    with pytest.raises(ValueError, match="single class 'same'"):
        data.load_csv(path, target="y")


def test_load_csv_empty_and_header_only_files(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        data.load_csv(write(tmp_path, ""), target="y")
    with pytest.raises(ValueError, match="no data rows"):
        data.load_csv(write(tmp_path, "a,y\n", "header.csv"), target="y")


def test_load_csv_rejects_uneven_tokens(tmp_path):
    path = write(tmp_path, "y,a,b,c\n0,1,2,3\n1,4,5,6\n")
    with pytest.raises(ValueError, match="cannot form n_tokens=2"):
        data.load_csv(path, target="y", n_tokens=2)
