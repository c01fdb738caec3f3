"""HDF5 constructs that would make a Keras file read outside its folder, spin, or exhaust memory:
each is refused with a ModelFormatError naming the file, before any weight is read."""
from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.importers import keras as kimport

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
NAME = "struct_sequential_mlp"
KERNEL = "layers/dense/vars/0"  # (8, 16) float32
SENTINEL = np.arange(8 * 16, dtype=np.float32).reshape(8, 16) + 1000.0


@pytest.fixture
def model_dir(tmp_path):
    """A folder holding NAME.json + NAME.weights.h5, and a secret file beside (outside) it."""
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(DIR / f"{NAME}.json", folder / "m.json")
    shutil.copy(DIR / f"{NAME}.weights.h5", folder / "m.weights.h5")
    SENTINEL.tofile(tmp_path / "secret.bin")
    with h5py.File(tmp_path / "secret.h5", "w") as f:
        f.create_dataset(KERNEL, data=SENTINEL)
        f["layers/dense/vars/1"] = np.zeros(16, np.float32)
    return folder


def _replace(folder: Path, path: str, make) -> None:
    with h5py.File(folder / "m.weights.h5", "a") as f:
        del f[path]
        make(f, path)


def _refused(folder: Path, match: str):
    with pytest.raises(ModelFormatError, match=match) as e:
        kimport.load(folder / "m.json")
    assert "m.weights.h5" in str(e.value) or "m.json" in str(e.value)
    return e.value


def test_the_unmodified_copy_loads(model_dir):
    model = kimport.load(model_dir / "m.json")
    data = np.load(DIR / f"{NAME}.npz")
    np.testing.assert_allclose(model.predict(data["input_0"], opt_level="O0"), data["output_0"], atol=1e-4)


def test_external_storage_at_an_absolute_path(model_dir):
    secret = model_dir.parent / "secret.bin"
    _replace(model_dir, KERNEL, lambda f, p: f.create_dataset(p, (8, 16), np.float32,
                                                                 external=[(str(secret), 0, SENTINEL.nbytes)]))
    _refused(model_dir, r"vars/0 keeps its data in external file.*secret\.bin")


def test_external_storage_at_a_relative_path_leaving_the_folder(model_dir):
    _replace(model_dir, KERNEL, lambda f, p: f.create_dataset(p, (8, 16), np.float32,
                                                                 external=[("../secret.bin", 0, SENTINEL.nbytes)]))
    _refused(model_dir, r"external file.*\.\./secret\.bin")


def test_external_link_in_place_of_a_layer_group(model_dir):
    secret = model_dir.parent / "secret.h5"
    _replace(model_dir, "layers/dense", lambda f, p: f.__setitem__(p, h5py.ExternalLink(str(secret), "/layers/dense")))
    _refused(model_dir, r"/layers/dense is an external link to .*secret\.h5")


def test_virtual_dataset_over_an_outside_file(model_dir):
    secret = model_dir.parent / "secret.h5"

    def make(f, p):
        layout = h5py.VirtualLayout(shape=(8, 16), dtype=np.float32)
        layout[:] = h5py.VirtualSource(str(secret), KERNEL, shape=(8, 16))
        f.create_virtual_dataset(p, layout)
    _replace(model_dir, KERNEL, make)
    _refused(model_dir, r"virtual dataset over .*secret\.h5")


def test_sibling_weights_symlinked_out_of_the_folder(model_dir):
    outside = model_dir.parent / "elsewhere.weights.h5"
    shutil.move(model_dir / "m.weights.h5", outside)
    (model_dir / "m.weights.h5").symlink_to(outside)
    _refused(model_dir, "leaves the model's folder")
    # naming the file on purpose is the user's choice
    kimport.load(model_dir / "m.json", weights=outside)


def test_soft_link_inside_the_file_is_followed(model_dir):
    with h5py.File(model_dir / "m.weights.h5", "a") as f:
        f.move(KERNEL, "spare_kernel")
        f[KERNEL] = h5py.SoftLink("/spare_kernel")
    model = kimport.load(model_dir / "m.json")
    data = np.load(DIR / f"{NAME}.npz")
    np.testing.assert_allclose(model.predict(data["input_0"], opt_level="O0"), data["output_0"], atol=1e-4)


def test_dangling_soft_link(model_dir):
    _replace(model_dir, KERNEL, lambda f, p: f.__setitem__(p, h5py.SoftLink("/nowhere")))
    _refused(model_dir, "soft link to '/nowhere', which does not exist")


def test_dataset_declared_at_tens_of_gib_is_refused_before_reading(model_dir):
    # chunked and never written: the file stays small while its shape claims 32 GiB
    _replace(model_dir, KERNEL, lambda f, p: f.create_dataset(p, (1 << 18, 1 << 15), np.float32, chunks=(8, 16)))
    assert (model_dir / "m.weights.h5").stat().st_size < 1 << 20
    _refused(model_dir, r"vars/0 declares 34,359,738,368 bytes, over the limit .*GRAPHC_MAX_WEIGHT_BYTES")


def test_the_weight_limit_is_configurable(model_dir, monkeypatch):
    monkeypatch.setenv("GRAPHC_MAX_WEIGHT_BYTES", "256")
    _refused(model_dir, "over the limit of 256")


@pytest.mark.parametrize("dtype", [h5py.string_dtype(), np.dtype([("a", np.float32), ("b", np.int8)])],
                         ids=["string", "compound"])
def test_non_numeric_weight(model_dir, dtype):
    _replace(model_dir, KERNEL, lambda f, p: f.create_dataset(p, (8, 16), dtype))
    _refused(model_dir, "not numbers; a weight must be a numeric array")


def test_weight_group_replaced_by_a_dataset(model_dir):
    _replace(model_dir, "layers/dense/vars", lambda f, p: f.create_dataset(p, data=np.zeros(2)))
    _refused(model_dir, "layout Keras writes")


def test_zeroed_global_heap_does_not_hang(tmp_path):
    """libhdf5 loops forever decoding a global heap whose first object header is zeroed; every
    string attribute of a legacy .h5 (model_config included) lives in such a heap."""
    data = bytearray((DIR / f"{NAME}.h5").read_bytes())
    heap = data.find(b"GCOL")
    assert heap > 0
    data[heap + 16:heap + 16 + 1024] = bytes(1024)
    p = tmp_path / "m.h5"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"m\.h5: damaged HDF5 global heap"):
        graphc.load(p)


def test_zeroed_heap_inside_a_keras_archive(tmp_path):
    import zipfile

    src = DIR / f"{NAME}.keras"
    p = tmp_path / "m.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w") as zout:
        for name in zin.namelist():
            raw = bytearray(zin.read(name))
            if name == "model.weights.h5":
                heap = raw.find(b"GCOL")
                raw[heap + 16:heap + 32] = bytes(16)
            zout.writestr(name, bytes(raw))
    with pytest.raises(ModelFormatError, match=r"m\.keras: model\.weights\.h5: damaged HDF5 global heap"):
        kimport.load(p)


def test_soft_link_through_an_external_link(model_dir):
    """A soft link whose path crosses an external link must not open the outside file either."""
    secret = model_dir.parent / "secret.h5"
    with h5py.File(model_dir / "m.weights.h5", "a") as f:
        del f[KERNEL]
        f[KERNEL] = h5py.SoftLink("/zz_outside/layers/dense/vars/0")
        f["zz_outside"] = h5py.ExternalLink(str(secret), "/")
    _refused(model_dir, r"/zz_outside is an external link")


def test_heap_check_reads_the_superblock_layout(tmp_path):
    """4-byte lengths and a user block move the heap's fields: a valid file passes, a zeroed heap not."""
    from graphc.importers.keras.h5safe import open_h5

    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(8, 4)
    fcpl.set_userblock(1024)
    p = tmp_path / "w.h5"
    with h5py.File(h5py.h5f.create(str(p).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)) as f:
        f.attrs["names"] = ["kernel" * 10, "bias"]
        f["x"] = np.ones(3)
    open_h5(p, str(p)).close()
    data = bytearray(p.read_bytes())
    heap = data.find(b"GCOL")
    data[heap + 16:heap + 64] = bytes(48)
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="damaged HDF5 global heap"):
        open_h5(p, str(p))
